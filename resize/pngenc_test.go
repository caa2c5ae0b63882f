package resize

import (
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
)

// toNRGBA converts a decoded image to NRGBA; 8-bit images convert exactly.
func toNRGBA(m image.Image) *image.NRGBA {
	if n, ok := m.(*image.NRGBA); ok {
		return n
	}
	n := image.NewNRGBA(image.Rect(0, 0, m.Bounds().Dx(), m.Bounds().Dy()))
	draw.Draw(n, n.Rect, m, m.Bounds().Min, draw.Src)
	return n
}

// thumbPixels makes the thumbnail of src as the service does and returns
// its pixels, which do not depend on the PNG encoder.
func thumbPixels(t testing.TB, src []byte, width int) *image.NRGBA {
	t.Helper()
	res, err := Thumbnail(context.Background(), bytes.NewReader(src), Options{Width: width})
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := image.Decode(bytes.NewReader(res.Data))
	if err != nil {
		t.Fatal(err)
	}
	return toNRGBA(m)
}

// checkLossless encodes img and checks that image/png decodes exactly its
// pixels. It returns the encoded file.
func checkLossless(t testing.TB, img *image.NRGBA) []byte {
	t.Helper()
	out, err := encodePNG(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	m, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("%v: image/png cannot decode our file: %v", img.Rect, err)
	}
	if m.Bounds().Size() != img.Rect.Size() {
		t.Fatalf("decoded %v, want %v", m.Bounds(), img.Rect)
	}
	b := m.Bounds()
	for y := range img.Rect.Dy() {
		for x := range img.Rect.Dx() {
			want := img.NRGBAAt(img.Rect.Min.X+x, img.Rect.Min.Y+y)
			got := color.NRGBAModel.Convert(m.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			if got != want {
				t.Fatalf("%v: pixel (%d,%d) is %v, want %v", img.Rect, x, y, got, want)
			}
		}
	}
	return out
}

// colorType reads the colour type and bit depth of a PNG file.
func colorType(p []byte) (ct, depth int) { return int(p[25]), int(p[24]) }

// TestEncodePNGTestdata round-trips the thumbnails of every testdata image
// at a few widths, the source's own included.
func TestEncodePNGTestdata(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "*.*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, width := range []int{1, 90, 180, 1 << 16} {
			t.Run(fmt.Sprintf("%s/%d", filepath.Base(f), width), func(t *testing.T) {
				checkLossless(t, thumbPixels(t, src, width))
			})
		}
	}
}

// synthetic draws an image from a function of the pixel position.
func synthetic(w, h int, at func(x, y int) color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, at(x, y))
		}
	}
	return img
}

// TestEncodePNGEdgeCases round-trips images at the edges of the layouts
// (palette size, bit depths, alpha, grey) and of the shapes.
func TestEncodePNGEdgeCases(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	noise := func() uint8 { return uint8(rnd.UintN(256)) }
	photo := testimages.Photo(300, 200, 5)
	cases := []struct {
		name      string
		img       *image.NRGBA
		ct, depth int // the layout expected; -1 for any
	}{
		{"1x1", synthetic(1, 1, func(x, y int) color.NRGBA { return color.NRGBA{10, 20, 30, 255} }), 0, 0},
		{"1x1 transparent", synthetic(1, 1, func(x, y int) color.NRGBA { return color.NRGBA{} }), ctPaletted, 1},
		// Colour under zero alpha is kept: the file decodes to the same NRGBA.
		{"transparent, colours under", synthetic(16, 16, func(x, y int) color.NRGBA { return color.NRGBA{uint8(x), uint8(y), 7, 0} }), -1, -1},
		{"semi-transparent", synthetic(64, 64, func(x, y int) color.NRGBA {
			return color.NRGBA{uint8(4 * x), uint8(4 * y), 100, uint8(x * y / 16)}
		}), ctRGBA, 8},
		// Each colour once, then at random.
		{"256 colours", synthetic(64, 64, func(x, y int) color.NRGBA {
			i := x + 64*y
			if i >= 256 {
				i = int(rnd.UintN(256))
			}
			return color.NRGBA{uint8(i), uint8(255 - i), uint8(i * 7), uint8(128 + i/2)}
		}), ctPaletted, 8},
		{"257 colours", synthetic(64, 64, func(x, y int) color.NRGBA {
			i := x + 64*y
			if i >= 257 {
				i = int(rnd.UintN(257))
			}
			return color.NRGBA{uint8(i), uint8(i >> 8), 9, 255}
		}), ctTrueColor, 8},
		{"2 colours", synthetic(133, 67, func(x, y int) color.NRGBA { return color.NRGBA{200, uint8(200 * rnd.UintN(2)), 0, 255} }), ctPaletted, 1},
		{"4 colours", synthetic(135, 69, func(x, y int) color.NRGBA { return color.NRGBA{uint8(60 * rnd.UintN(4)), 0, 1, 255} }), ctPaletted, 2},
		{"16 colours with alpha", synthetic(137, 61, func(x, y int) color.NRGBA { return color.NRGBA{9, 9, 9, uint8(17 * rnd.UintN(16))} }), ctPaletted, 4},
		{"grey 1-bit", synthetic(19, 7, func(x, y int) color.NRGBA { v := uint8(255 * (x % 2)); return color.NRGBA{v, v, v, 255} }), ctGray, 1},
		{"grey 2-bit", synthetic(19, 7, func(x, y int) color.NRGBA { v := uint8(85 * (x % 4)); return color.NRGBA{v, v, v, 255} }), ctGray, 2},
		{"grey 4-bit", synthetic(19, 7, func(x, y int) color.NRGBA { v := uint8(17 * ((x + y) % 16)); return color.NRGBA{v, v, v, 255} }), ctGray, 4},
		{"grey 8-bit", synthetic(70, 50, func(x, y int) color.NRGBA { v := uint8(x + 3*y); return color.NRGBA{v, v, v, 255} }), ctGray, 8},
		{"grey, 5 uneven levels", synthetic(70, 50, func(x, y int) color.NRGBA { v := uint8(3 + 40*((x+y)%5)); return color.NRGBA{v, v, v, 255} }), ctPaletted, 4},
		{"grey with alpha", synthetic(70, 50, func(x, y int) color.NRGBA { v := uint8(x + 3*y); return color.NRGBA{v, v, v, uint8(x * 3)} }), ctGrayAlpha, 8},
		{"noise RGBA", synthetic(61, 47, func(x, y int) color.NRGBA { return color.NRGBA{noise(), noise(), noise(), noise()} }), ctRGBA, 8},
		{"noise RGB", synthetic(61, 47, func(x, y int) color.NRGBA { return color.NRGBA{noise(), noise(), noise(), 255} }), ctTrueColor, 8},
		{"1 pixel wide, tall", synthetic(1, 3000, func(x, y int) color.NRGBA { return color.NRGBA{uint8(y), uint8(y / 3), 0, 255} }), ctTrueColor, 8},
		{"2048-pixel row", synthetic(2048, 1, func(x, y int) color.NRGBA { return color.NRGBA{uint8(x), uint8(x >> 3), noise(), 255} }), ctTrueColor, 8},
		{"2048-pixel rows", synthetic(2048, 3, func(x, y int) color.NRGBA { return color.NRGBA{uint8(x), uint8(x >> 3), uint8(y), uint8(x)} }), ctRGBA, 8},
		{"sub-image", photo.SubImage(image.Rect(17, 23, 201, 160)).(*image.NRGBA), ctTrueColor, 8},
		// More than searchRaw bytes of rows: the medium search.
		{"medium", synthetic(700, 500, func(x, y int) color.NRGBA { return color.NRGBA{uint8(x), uint8(y), uint8(x ^ y), uint8(x + y)} }), ctRGBA, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := checkLossless(t, c.img)
			if ct, d := colorType(out); c.depth > 0 && (ct != c.ct || d != c.depth) {
				t.Errorf("colour type %d depth %d, want %d and %d", ct, d, c.ct, c.depth)
			}
		})
	}
}

// TestEncodePNGLarge round-trips images over searchPixels, which are
// written in one pass, a photo (the literal coder) and a screenshot
// (LZ77), and checks the output never outgrew its first allocation.
func TestEncodePNGLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("draws two megapixel images")
	}
	for _, img := range []*image.NRGBA{testimages.Photo(1100, 1000, 2), testimages.Screenshot(1280, 1024)} {
		out := checkLossless(t, img)
		ct, depth := colorType(out)
		l := layout{colorType: uint8(ct), depth: uint8(depth)}
		raw := (l.rowBytes(img.Rect.Dx()) + 1) * img.Rect.Dy()
		if cap(out) != pngBound(raw) {
			t.Errorf("%v: capacity %d, want the bound %d: the buffer grew", img.Rect, cap(out), pngBound(raw))
		}
	}
}

// TestLiteralCoder round-trips the literal-only deflate coder through
// compress/flate on data of every kind, at several block sizes, and
// checks that its cost estimate matches what it writes.
func TestLiteralCoder(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 100_000)
	for i := range random {
		random[i] = uint8(rnd.UintN(256))
	}
	skewed := make([]byte, 100_000)
	for i := range skewed {
		skewed[i] = uint8(rnd.ExpFloat64() * 4)
	}
	datas := map[string][]byte{
		"empty": nil, "one byte": {200}, "zeros": make([]byte, 70_000),
		"random": random, "skewed": skewed, "two symbols": bytes.Repeat([]byte{1, 250}, 5000),
	}
	var c literalCoder
	for name, all := range datas {
		for _, size := range []int{1, 100, 4096, 65535, 70000} {
			data := all
			if size < 100 {
				data = data[:min(len(data), 1000)]
			}
			var ends []int // blocks of size bytes, the last one shorter
			est := 0       // blockCost's estimate
			for start := 0; start == 0 || start < len(data); start += size {
				end := min(start+size, len(data))
				ends = append(ends, end)
				d, f, s := c.blockCost(data[start:end])
				est += min(d, f, s)
			}
			z := c.encodeSplit(nil, data, ends)
			back, err := io.ReadAll(flate.NewReader(bytes.NewReader(z)))
			if err != nil || !bytes.Equal(back, data) {
				t.Fatalf("%s, blocks of %d: round trip failed: %v", name, size, err)
			}
			// The estimate counts stored blocks' padding as 7 bits.
			if est = (est + 7) / 8; est < len(z) || est > len(z)+len(ends) {
				t.Errorf("%s, blocks of %d: estimated %d bytes, wrote %d", name, size, est, len(z))
			}
			// Stored: 5 bytes per block of up to 65535, and padding.
			if name == "random" && len(z) > len(data)+6*(len(data)/65535+len(ends)) {
				t.Errorf("random, blocks of %d: %d bytes, more than stored blocks", size, len(z))
			}
		}
	}
	// Streaming splits each window of bytes as encodeSplit splits it all.
	c.start(nil)
	for p := skewed; len(p) > 0; p = p[min(len(p), 777):] {
		c.write(p[:min(len(p), 777)])
	}
	if got, want := c.finish(), c.encodeSplit(nil, skewed, slices.Clone(c.split(skewed))); !bytes.Equal(got, want) {
		t.Error("streamed stream differs from encodeSplit's")
	}
	long := slices.Repeat(skewed, 7) // several windows
	c.start(nil)
	for p := long; len(p) > 0; p = p[min(len(p), 5000):] {
		c.write(p[:min(len(p), 5000)])
	}
	back, err := io.ReadAll(flate.NewReader(bytes.NewReader(c.finish())))
	if err != nil || !bytes.Equal(back, long) {
		t.Fatalf("streaming %d bytes: round trip failed: %v", len(long), err)
	}
}

// TestHuffLengths checks that codes are complete and within their length
// limit, even for frequencies whose Huffman code is deeper.
func TestHuffLengths(t *testing.T) {
	fib := make([]int32, 30) // Fibonacci frequencies make a 29-deep code
	fib[0], fib[1] = 1, 1
	for i := 2; i < len(fib); i++ {
		fib[i] = fib[i-1] + fib[i-2]
	}
	for _, limit := range []int{7, 15} {
		for _, freq := range [][]int32{fib, {5}, {0, 3, 0}, {1, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}} {
			lens := make([]uint8, len(freq))
			huffLengths(lens, freq, limit)
			used, kraft := 0, 0.0
			for i, l := range lens {
				if (l == 0) != (freq[i] == 0) || int(l) > limit {
					t.Fatalf("limit %d, freq %v: lengths %v", limit, freq, lens)
				}
				if l > 0 {
					used++
					kraft += 1 / float64(int(1)<<l)
				}
			}
			if used > 1 && kraft != 1 {
				t.Errorf("limit %d, freq %v: lengths %v are not a complete code", limit, freq, lens)
			}
		}
	}
}

// benchSources are the bench's three sources, drawn once: the 12 MP
// photo takes seconds, so only benchmarks and the libvips comparison use
// them.
var benchSources = sync.OnceValue(func() []pngSource {
	return []pngSource{
		{"illustration 400x400", testimages.EncodePNG(testimages.Illustration(400, 400))},
		{"screenshot 1920x1080", testimages.EncodePNG(testimages.Screenshot(1920, 1080))},
		{"photo 4000x3000", testimages.EncodePNG(testimages.Photo(4000, 3000, 1))},
	}
})

type pngSource struct {
	name string
	data []byte
}

// TestEncodePNGSmallerThanBestSpeed checks that each bench image's 180 px
// thumbnail comes out smaller than image/png at BestSpeed makes it, with
// a 1000×750 photo standing in for the 12 MP one.
func TestEncodePNGSmallerThanBestSpeed(t *testing.T) {
	srcs := []pngSource{
		{"illustration 400x400", testimages.EncodePNG(testimages.Illustration(400, 400))},
		{"screenshot 1920x1080", testimages.EncodePNG(testimages.Screenshot(1920, 1080))},
		{"photo 1000x750", testimages.EncodePNG(testimages.Photo(1000, 750, 1))},
	}
	for _, src := range srcs {
		img := thumbPixels(t, src.data, 180)
		ours := checkLossless(t, img)
		var std bytes.Buffer
		if err := bestSpeed.Encode(&std, img); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s at 180 px: %d bytes, image/png BestSpeed %d", src.name, len(ours), std.Len())
		if len(ours) >= std.Len() {
			t.Errorf("%s at 180 px: %d bytes, not smaller than image/png BestSpeed's %d", src.name, len(ours), std.Len())
		}
	}
}

// vipsSave has libvips re-save the PNG file in as libpng compresses
// hardest: zlib level 9, every filter tried on every row.
func vipsSave(t *testing.T, in []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.png"), filepath.Join(dir, "out.png")
	if err := os.WriteFile(src, in, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("vips", "pngsave", src, dst, "--compression", "9", "--filter", "all")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vips pngsave: %v: %s", err, out)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEncodePNGAgainstVips checks that each bench thumbnail, at 180 and
// 400 px and a few other widths, and the 90 and 180 px thumbnails of the
// PNG and GIF testdata, are no larger than libvips makes them from the
// same pixels with `vips pngsave --compression 9 --filter all`. With -v it
// prints the figures as a Markdown table.
func TestEncodePNGAgainstVips(t *testing.T) {
	if _, err := exec.LookPath("vips"); err != nil {
		t.Skip("vips is not on PATH: libvips is not a test dependency (Debian: apt-get install libvips-tools)")
	}
	if testing.Short() {
		t.Skip("draws the 12 MP bench photo")
	}
	type thumb struct {
		src    pngSource
		widths []int
	}
	var thumbs []thumb
	for _, src := range benchSources() {
		thumbs = append(thumbs, thumb{src, []int{180, 400, 90, 360, 1024}})
	}
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*.*"))
	for _, f := range files {
		if ext := filepath.Ext(f); ext == ".png" || ext == ".gif" {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			thumbs = append(thumbs, thumb{pngSource{filepath.Base(f), data}, []int{90, 180}})
		}
	}
	t.Log("| image | width | ours, bytes | image/png BestSpeed | vips pngsave -9 all filters | ours/vips |")
	t.Log("|---|---:|---:|---:|---:|---:|")
	for _, th := range thumbs {
		done := map[int]bool{} // widths past the source's give the same thumbnail
		for _, width := range th.widths {
			img := thumbPixels(t, th.src.data, width)
			if done[img.Rect.Dx()] {
				continue
			}
			done[img.Rect.Dx()] = true
			ours := checkLossless(t, img)
			var std bytes.Buffer
			if err := bestSpeed.Encode(&std, img); err != nil {
				t.Fatal(err)
			}
			vips := vipsSave(t, std.Bytes())
			t.Logf("| %s | %d | %d | %d | %d | %.3f |", th.src.name, img.Rect.Dx(), len(ours), std.Len(), len(vips), float64(len(ours))/float64(len(vips)))
			if len(ours) > len(vips) {
				t.Errorf("%s at %d px: %d bytes, larger than vips' %d", th.src.name, width, len(ours), len(vips))
			}
		}
	}
}

// BenchmarkEncodePNG times encodePNG against the encoder it replaces
// (image/png at BestSpeed) on each bench image's thumbnails, at 180 and
// 400 px; the bytes metric is the encoded size.
func BenchmarkEncodePNG(b *testing.B) {
	for _, src := range benchSources() {
		for _, width := range []int{180, 400} {
			img := thumbPixels(b, src.data, width)
			name := fmt.Sprintf("%s/%dpx", src.name, width)
			b.Run(name+"/ours", func(b *testing.B) {
				b.ReportAllocs()
				var out []byte
				for b.Loop() {
					var err error
					if out, err = encodePNG(context.Background(), img); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(out)), "bytes")
			})
			b.Run(name+"/bestspeed", func(b *testing.B) {
				b.ReportAllocs()
				var buf bytes.Buffer
				for b.Loop() {
					buf.Reset()
					if err := bestSpeed.Encode(&buf, img); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(buf.Len()), "bytes")
			})
		}
	}
}

// BenchmarkEncodePNGLarge times the one-pass path on 2048×2048 images, the
// largest thumbnails: noise (the worst case for time and size) and a
// screenshot.
func BenchmarkEncodePNGLarge(b *testing.B) {
	rnd := rand.New(rand.NewPCG(5, 6))
	noise := image.NewNRGBA(image.Rect(0, 0, 2048, 2048))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(rnd.UintN(256))
	}
	// Half noise, half flat: LZ77 wins the sample, then meets the noise.
	half := image.NewNRGBA(noise.Rect)
	copy(half.Pix, noise.Pix[:len(noise.Pix)/2])
	for _, c := range []struct {
		name string
		img  *image.NRGBA
	}{{"noise", noise}, {"half noise", half}, {"photo", testimages.Photo(2048, 2048, 3)}, {"screenshot", testimages.Screenshot(2048, 2048)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var out []byte
			for b.Loop() {
				out, _ = encodePNG(context.Background(), c.img)
			}
			b.ReportMetric(float64(len(out)), "bytes")
		})
	}
}

// FuzzEncodePNG round-trips small images made of the fuzzer's bytes.
func FuzzEncodePNG(f *testing.F) {
	f.Add(uint8(3), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add(uint8(1), bytes.Repeat([]byte{0, 0, 0, 0, 255, 255, 255, 255}, 9))
	f.Add(uint8(16), slices.Repeat([]byte{7, 7, 7, 255}, 64))
	f.Fuzz(func(t *testing.T, w uint8, pix []byte) {
		width := int(w%64) + 1
		h := len(pix) / 4 / width
		if h == 0 || h > 256 {
			return
		}
		img := &image.NRGBA{Pix: pix[:4*width*h], Stride: 4 * width, Rect: image.Rect(0, 0, width, h)}
		checkLossless(t, img)
	})
}

// bestSpeed is how thumbnails were encoded before encodePNG: image/png at
// zlib level 1.
var bestSpeed = png.Encoder{CompressionLevel: png.BestSpeed}
