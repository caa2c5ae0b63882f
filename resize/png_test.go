package resize

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/disintegration/imaging"

	"github.com/iron-thumbs/iron_thumbs/internal/imgdiff"
	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
)

// pngVariants are PNGs of every kind the stream decoder reads, with and
// without transparency.
func pngVariants() map[string][]byte {
	out := map[string][]byte{}
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*.png"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			out[filepath.Base(f)] = b
		}
	}
	enc := func(img image.Image) []byte { return testimages.EncodePNG(img) }
	r := image.Rect(0, 0, 37, 23)
	rgb := image.NewRGBA(r)
	ga := image.NewNRGBA(r)
	g16 := image.NewGray16(r)
	rgb16 := image.NewRGBA64(r)
	for y := range 23 {
		for x := range 37 {
			rgb.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 11), uint8(x * y), 255})
			v := uint8(x * 6)
			ga.Set(x, y, color.NRGBA{v, v, v, uint8(y * 11)})
			g16.Set(x, y, color.Gray16{uint16(x*1777 + y)})
			rgb16.Set(x, y, color.RGBA64{uint16(x * 1700), uint16(y * 2800), 999, 0xffff})
		}
	}
	pal := make(color.Palette, 20)
	for i := range pal {
		pal[i] = color.NRGBA{uint8(i * 12), uint8(255 - i*12), 40, uint8(i * 13)}
	}
	p8 := image.NewPaletted(r, pal)
	for i := range p8.Pix {
		p8.Pix[i] = uint8(i % 20)
	}
	out["pal8-trns"] = enc(p8)
	out["rgb8"] = enc(rgb)
	out["rgb16"] = enc(rgb16)
	out["gray16"] = enc(g16)
	// Gray+alpha is written by image/png as RGBA; the tRNS variants are
	// made by inserting a chunk into PNGs image/png wrote.
	out["rgb8-trns"] = testimages.InsertChunk(enc(rgb), "tRNS", []byte{0, 7, 0, 11, 0, 0})
	out["gray8-trns"] = testimages.InsertChunk(testimages.Gray(40, 30), "tRNS", []byte{0, 0})
	out["gray16-trns"] = testimages.InsertChunk(enc(g16), "tRNS", []byte{0x00, 0x01})
	out["rgb16-trns"] = testimages.InsertChunk(enc(rgb16), "tRNS", []byte{0, 0, 0x0a, 0xf0, 0x03, 0xe7})
	// Every depth below 8, grey and palette, with and without tRNS, and
	// interlaced variants of every kind.
	pal16 := make([]byte, 3*16)
	for i := range pal16 {
		pal16[i] = uint8(i * 5)
	}
	for _, d := range []int{1, 2, 4} {
		gray := func(x, y, _ int) uint16 { return uint16(x+3*y) % (1 << d) }
		name := fmt.Sprintf("gray%d", d)
		out[name] = testimages.RawPNG(37, 23, d, 0, false, gray, nil, nil)
		out[name+"-trns"] = testimages.RawPNG(37, 23, d, 0, false, gray, nil, []byte{0, 1})
		out[name+"-interlaced"] = testimages.RawPNG(37, 23, d, 0, true, gray, nil, []byte{0, 1})
		n := 1 << d
		name = fmt.Sprintf("pal%d", d)
		idx := func(x, y, _ int) uint16 { return uint16(x*y+x) % uint16(n) }
		out[name] = testimages.RawPNG(37, 23, d, 3, false, idx, pal16[:3*n], nil)
		out[name+"-trns"] = testimages.RawPNG(37, 23, d, 3, false, idx, pal16[:3*n], []byte{0, 128})
		out[name+"-interlaced"] = testimages.RawPNG(37, 23, d, 3, true, idx, pal16[:3*n], nil)
		// Indexes past a short palette read as opaque black.
		out[name+"-short"] = testimages.RawPNG(37, 23, d, 3, false, idx, pal16[:3], nil)
	}
	for _, c := range []struct {
		name      string
		depth, ct int
	}{{"gray8", 8, 0}, {"gray16", 16, 0}, {"rgb8", 8, 2}, {"rgb16", 16, 2}, {"ga8", 8, 4}, {"ga16", 16, 4}, {"rgba8", 8, 6}, {"rgba16", 16, 6}} {
		f := func(x, y, ch int) uint16 {
			return uint16(uint32((x*31+y*17+ch*101)*(c.depth*c.depth+1)) & (1<<c.depth - 1))
		}
		for _, size := range [][2]int{{37, 23}, {1, 1}, {3, 9}, {9, 2}} {
			out[fmt.Sprintf("%s-interlaced-%dx%d", c.name, size[0], size[1])] = testimages.RawPNG(size[0], size[1], c.depth, c.ct, true, f, nil, nil)
		}
		out[c.name+"-filters"] = testimages.RawPNG(37, 23, c.depth, c.ct, false, f, nil, nil)
	}
	return out
}

// streamDecode decodes with the stream decoder into a full image: a
// reducer to the source's own size copies the rows.
func streamDecode(data []byte, pipeline bool) (*image.NRGBA, bool, error) {
	br := bufio.NewReader(bytes.NewReader(data))
	info, isPNG, err := peekPNGHeader(br)
	if err == nil {
		err = info.check()
	}
	if err != nil || !isPNG || int64(info.width)*int64(info.height) > 1<<22 {
		return nil, false, err
	}
	red := newReducer(info.width, info.height, 1, 1, info.width, info.height, !info.interlaced)
	out := pngOut{sink: red}
	if info.interlaced {
		out = pngOut{red: red}
	}
	err = decodePNGStream(context.Background(), br, info, out, pipeline)
	return red.finish(), true, err
}

// agree checks that the stream decoder and image/png agree on data: both
// refuse it, or both read the same pixels (as imaging sees them).
func agree(t *testing.T, name string, data []byte) {
	t.Helper()
	std, stdErr := png.Decode(bytes.NewReader(data))
	for _, pipeline := range []bool{false, true} {
		got, ok, err := streamDecode(data, pipeline)
		if !ok {
			return
		}
		if stdErr != nil || err != nil {
			if (stdErr == nil) != (err == nil) && std != nil && std.Bounds().Dx()*std.Bounds().Dy() < 1<<22 {
				// Only inputs both accept must agree; log the difference.
				t.Logf("%s: image/png error %v, stream error %v", name, stdErr, err)
			}
			continue
		}
		want := imaging.Clone(std)
		if !bytes.Equal(got.Pix, want.Pix) {
			for i := range got.Pix {
				if got.Pix[i] != want.Pix[i] {
					t.Fatalf("%s (pipeline %v): byte %d (pixel %d) is %d, image/png says %d",
						name, pipeline, i, i/4, got.Pix[i], want.Pix[i])
				}
			}
		}
	}
}

func TestStreamDecoderAgrees(t *testing.T) {
	for name, data := range pngVariants() {
		if _, ok, err := streamDecode(data, false); !ok || err != nil {
			t.Errorf("%s: not read by the stream decoder: %v", name, err)
		}
		agree(t, name, data)
	}
	// A big one, through the pipeline.
	agree(t, "photo", testimages.EncodePNG(testimages.Photo(1200, 900, 5)))
}

func TestStreamDecoderRefuses(t *testing.T) {
	cloud := pngVariants()["computer_cloud_system.png"]
	bad := map[string][]byte{
		"truncated": cloud[:len(cloud)/2],
		"no IEND":   cloud[:len(cloud)-12],
		"bad CRC":   func() []byte { b := bytes.Clone(cloud); b[len(b)-20] ^= 1; return b }(),
	}
	for name, data := range bad {
		if _, _, err := streamDecode(data, false); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := png.Decode(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: image/png accepts it; the test is wrong", name)
		}
	}
}

// FuzzStreamDecoder: the stream decoder agrees with image/png on every
// input both accept.
func FuzzStreamDecoder(f *testing.F) {
	for _, data := range pngVariants() {
		if len(data) < 16<<10 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if cfg, err := png.DecodeConfig(bytes.NewReader(data)); err != nil || cfg.Width*cfg.Height > 1<<16 {
			return
		}
		agree(t, "input", data)
	})
}

// TestQualityLarge: thumbnails of the large bench images, shrunk on load,
// against the reference (full decode, imaging Lanczos).
func TestQualityLarge(t *testing.T) {
	for name, img := range map[string]*image.NRGBA{
		"screenshot 1920x1080":   testimages.Screenshot(1920, 1080),
		"photo 4000x3000":        testimages.Photo(4000, 3000, 1),
		"illustration 2000x2000": testimages.Illustration(2000, 2000),
	} {
		src := testimages.EncodePNG(img)
		for _, w := range []int{1, 50, 180, 333, 700} {
			res, err := Thumbnail(context.Background(), bytes.NewReader(src), Options{Width: w})
			if err != nil {
				t.Fatal(err)
			}
			got, err := png.Decode(bytes.NewReader(res.Data))
			if err != nil {
				t.Fatal(err)
			}
			ref := imgdiff.Reference(img, w)
			mad, psnr, err := imgdiff.Compare(got, ref)
			if err != nil || mad > imgdiff.MaxMAD || psnr < imgdiff.MinPSNR {
				t.Errorf("%s at %d: MAD %.3f, PSNR %.1f dB, %v", name, w, mad, psnr, err)
			}
		}
	}
}

// TestPipelineErrorsLeakNothing: a large PNG that breaks mid-stream is
// refused, and the read-ahead and inflating goroutines end with the call.
func TestPipelineErrorsLeakNothing(t *testing.T) {
	src := testimages.EncodePNG(testimages.Photo(1400, 1000, 9))
	before := runtime.NumGoroutine()
	for _, cut := range []int{len(src) / 3, len(src) * 2 / 3, len(src) - 20} {
		_, err := Thumbnail(context.Background(), bytes.NewReader(src[:cut]), Options{Width: 90})
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("cut at %d: %v, want ErrCorrupt", cut, err)
		}
	}
	bad := bytes.Clone(src)
	bad[len(bad)/2] ^= 0x55 // inside the deflate stream
	if _, err := Thumbnail(context.Background(), bytes.NewReader(bad), Options{Width: 90}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("flipped byte: %v, want ErrCorrupt", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left behind", n-before)
	}
}

// failingReader yields data, then fails with err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestSourceFailureIsNotCorruption: a source that breaks mid-stream is
// reported as its own error, not as a corrupt image.
func TestSourceFailureIsNotCorruption(t *testing.T) {
	errStorage := errors.New("storage went away")
	small := testimages.EncodePNG(testimages.Illustration(400, 400))
	big := testimages.EncodePNG(testimages.Photo(1400, 1000, 9))
	for _, src := range [][]byte{small, big} {
		for _, cut := range []int{4, 20, len(src) / 2} {
			_, err := Thumbnail(context.Background(), &failingReader{data: src[:cut], err: errStorage}, Options{Width: 90})
			if !errors.Is(err, errStorage) || errors.Is(err, ErrCorrupt) {
				t.Errorf("%d-byte source cut at %d: %v, want the storage error", len(src), cut, err)
			}
		}
	}
	// The size cap is a size error, not corruption.
	if _, err := Thumbnail(context.Background(), bytes.NewReader(big), Options{Width: 90, MaxBytes: int64(len(big) / 2)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over MaxBytes: %v, want ErrTooLarge", err)
	}
	// A side longer than maxSide is refused from the header.
	wide := testimages.Bomb(maxSide+1, 1)
	if _, err := Thumbnail(context.Background(), bytes.NewReader(wide), Options{Width: 90, MaxPixels: 1 << 30}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("%d px wide: %v, want ErrTooLarge", maxSide+1, err)
	}
}
