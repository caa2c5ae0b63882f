package resize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
)

func readJPEGFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "jpeg", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jpegFixtures are the fixtures both decoders read.
var jpegFixtures = []string{
	"b444.jpg", "b422.jpg", "b420.jpg", "b440.jpg", "b411.jpg", "grey.jpg",
	"rst-row.jpg", "rst-5.jpg", "rst-grey.jpg",
	"prog420.jpg", "prog444.jpg", "proggrey.jpg", "multiscan.jpg",
	"cmyk.jpg", "ycck.jpg",
}

// rawPlanes decodes at 1/scale and returns each component's samples,
// cropped to the component's size at that scale, with their widths.
func rawPlanes(t testing.TB, data []byte, scale int) (planes [][]byte, widths []int) {
	d, err := newJPEGDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	planes = make([][]byte, d.ncomp)
	widths = make([]int, d.ncomp)
	heights := make([]int, d.ncomp)
	for c := range d.ncomp {
		k := &d.comps[c]
		widths[c] = ((d.hdr.width*k.h+d.hmax-1)/d.hmax + scale - 1) / scale
		heights[c] = ((d.hdr.height*k.v+d.vmax-1)/d.vmax + scale - 1) / scale
	}
	d.rawHook = func(c, y0, n int, p []byte, stride int) {
		for r := range n {
			if y0+r < heights[c] {
				planes[c] = append(planes[c], p[r*stride:r*stride+widths[c]]...)
			}
		}
	}
	if err := d.decode(context.Background(), scale, 1<<30, discardSink{}); err != nil {
		t.Fatal(err)
	}
	return planes, widths
}

// refPlanes are image/jpeg's component planes for grey and YCbCr images
// (nil for others), with their widths.
func refPlanes(t testing.TB, data []byte) (planes [][]byte, widths []int) {
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("image/jpeg: %v", err)
	}
	switch m := img.(type) {
	case *image.Gray:
		return [][]byte{crop(m.Pix, m.Stride, m.Rect.Dx(), m.Rect.Dy())}, []int{m.Rect.Dx()}
	case *image.YCbCr:
		w, h := m.Rect.Dx(), m.Rect.Dy()
		cw, ch := w, h
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio422:
			cw = (w + 1) / 2
		case image.YCbCrSubsampleRatio420:
			cw, ch = (w+1)/2, (h+1)/2
		case image.YCbCrSubsampleRatio440:
			ch = (h + 1) / 2
		case image.YCbCrSubsampleRatio411:
			cw = (w + 3) / 4
		case image.YCbCrSubsampleRatio410:
			cw, ch = (w+3)/4, (h+1)/2
		}
		return [][]byte{crop(m.Y, m.YStride, w, h), crop(m.Cb, m.CStride, cw, ch), crop(m.Cr, m.CStride, cw, ch)}, []int{w, cw, cw}
	}
	return nil, nil
}

type discardSink struct{}

func (discardSink) rows(y, n int, p []byte, stride int) {}

func maxAbsDiff(a, b []byte) int {
	m := 0
	for i := range a {
		d := int(a[i]) - int(b[i])
		m = max(m, d, -d)
	}
	return m
}

// TestJPEGSamplesMatch: at scale 1 every component's samples are within
// 2 of image/jpeg's (two different accurate integer IDCTs), and the RGB
// within 4 (a sample's error can reach a colour channel amplified by the
// conversion's 1.77 Cb factor).
func TestJPEGSamplesMatch(t *testing.T) {
	for _, name := range jpegFixtures {
		data := readJPEGFixture(t, name)
		img, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: image/jpeg: %v", name, err)
		}
		planes, _ := rawPlanes(t, data, 1)
		want, _ := refPlanes(t, data)
		_ = img
		for c := range want {
			if len(want[c]) != len(planes[c]) {
				t.Errorf("%s: component %d: %d samples, image/jpeg %d", name, c, len(planes[c]), len(want[c]))
				continue
			}
			if d := maxAbsDiff(planes[c], want[c]); d > 2 {
				t.Errorf("%s: component %d: samples differ by up to %d from image/jpeg's", name, c, d)
			}
		}
		ref, w, h, ch := referenceRGB(t, data)
		got, w2, h2, ch2, err := decodeJPEG(data, 1)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w != w2 || h != h2 || ch != ch2 {
			t.Fatalf("%s: %dx%dx%d, image/jpeg %dx%dx%d", name, w2, h2, ch2, w, h, ch)
		}
		if d := maxAbsDiff(got, ref); d > 4 {
			t.Errorf("%s: RGB differs by up to %d from image/jpeg's", name, d)
		}
	}
}

func crop(p []byte, stride, w, h int) []byte {
	var out []byte
	for y := range h {
		out = append(out, p[y*stride:y*stride+w]...)
	}
	return out
}

// boxAverage shrinks packed pixels by scale, averaging the full decode
// over each scale x scale block (partial at the edges).
func boxAverage(pix []byte, w, h, ch, scale int) []float64 {
	ow, oh := (w+scale-1)/scale, (h+scale-1)/scale
	out := make([]float64, ow*oh*ch)
	for oy := range oh {
		for ox := range ow {
			for c := range ch {
				sum, n := 0, 0
				for y := oy * scale; y < min(h, oy*scale+scale); y++ {
					for x := ox * scale; x < min(w, ox*scale+scale); x++ {
						sum += int(pix[(y*w+x)*ch+c])
						n++
					}
				}
				out[(oy*ow+ox)*ch+c] = float64(sum) / float64(n)
			}
		}
	}
	return out
}

// TestJPEGScaledMatchesBoxAverage: at 1/2, 1/4 and 1/8 each component's
// samples are image/jpeg's box-averaged over scale x scale samples
// (partial at the edges): mean absolute difference at most 1.5, maximum
// at most 12. The maximum is looser because the reduced IDCT drops the
// coefficients above the kept ones, whose share of a box mean is small
// but not zero (at 1/8 everything but DC: a block's DC is its mean before
// image/jpeg clamps samples to 0..255), and the fixture's texture has
// some. RGB is checked the same way where there is no chroma subsampling;
// with subsampling, chroma is replicated at the reduced scale as
// image/jpeg does at full size, so its RGB differs from a box average by
// the chroma's own variation over one chroma sample, which no bound can
// tie to the decoder.
func TestJPEGScaledMatchesBoxAverage(t *testing.T) {
	check := func(what string, got []byte, box []float64) {
		t.Helper()
		if len(box) != len(got) {
			t.Fatalf("%s: %d values, want %d", what, len(got), len(box))
		}
		var sum, worst float64
		for i := range box {
			d := math.Abs(box[i] - float64(got[i]))
			sum += d
			worst = max(worst, d)
		}
		if mean := sum / float64(len(box)); mean > 1.5 || worst > 12 {
			t.Errorf("%s: mean difference %.2f, max %.1f from image/jpeg box-averaged", what, mean, worst)
		}
	}
	for _, name := range jpegFixtures {
		data := readJPEGFixture(t, name)
		ref, rw := refPlanes(t, data)
		rgb, w, h, ch := referenceRGB(t, data)
		d, err := newJPEGDecoder(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		subsampled := false
		for c := range d.ncomp {
			subsampled = subsampled || d.comps[c].h != d.hmax || d.comps[c].v != d.vmax
		}
		for _, scale := range []int{2, 4, 8} {
			planes, _ := rawPlanes(t, data, scale)
			for c := range ref {
				check(fmt.Sprintf("%s 1/%d component %d", name, scale, c), planes[c], boxAverage(ref[c], rw[c], len(ref[c])/rw[c], 1, scale))
			}
			if subsampled {
				continue
			}
			got, _, _, _, err := decodeJPEG(data, scale)
			if err != nil {
				t.Fatalf("%s 1/%d: %v", name, scale, err)
			}
			check(fmt.Sprintf("%s 1/%d RGB", name, scale), got, boxAverage(rgb, w, h, ch, scale))
		}
	}
}

// TestJPEGProgressiveMatchesBaseline: progressive and multi-scan files
// carry the same coefficients as their baseline twins, so every scale
// must give the same pixels.
func TestJPEGProgressiveMatchesBaseline(t *testing.T) {
	pairs := [][2]string{
		{"prog420.jpg", "b420.jpg"}, {"prog444.jpg", "b444.jpg"}, {"proggrey.jpg", "grey.jpg"},
		{"multiscan.jpg", "b420.jpg"}, {"progrst.jpg", "prog420.jpg"},
	}
	for _, p := range pairs {
		for _, scale := range []int{1, 2, 4, 8} {
			a, _, _, _, err := decodeJPEG(readJPEGFixture(t, p[0]), scale)
			if err != nil {
				t.Fatalf("%s: %v", p[0], err)
			}
			b, _, _, _, err := decodeJPEG(readJPEGFixture(t, p[1]), scale)
			if err != nil {
				t.Fatalf("%s: %v", p[1], err)
			}
			if d := maxAbsDiff(a, b); len(a) != len(b) || d > 0 {
				t.Errorf("%s vs %s at 1/%d: differ by up to %d", p[0], p[1], scale, d)
			}
		}
	}
}

func TestJPEGRefusesUnsupported(t *testing.T) {
	for _, name := range []string{"arith.jpg", "12bit.jpg"} {
		_, err := newJPEGDecoder(bytes.NewReader(readJPEGFixture(t, name)))
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
	// Lossless and hierarchical frames.
	for _, sof := range []byte{0xc3, 0xc5, 0xcb} {
		b := bytes.Clone(readJPEGFixture(t, "b420.jpg"))
		b[bytes.Index(b, []byte{0xff, 0xc0})+1] = sof
		if _, err := newJPEGDecoder(bytes.NewReader(b)); !errors.Is(err, ErrUnsupported) {
			t.Errorf("SOF %#x: %v, want ErrUnsupported", sof, err)
		}
	}
}

func TestJPEGOrientation(t *testing.T) {
	for _, o := range []int{1, 6, 8} {
		d, err := newJPEGDecoder(bytes.NewReader(testimages.JPEG(61, 47, o)))
		if err != nil {
			t.Fatal(err)
		}
		if got := d.info().orientation; got != o {
			t.Errorf("orientation %d, want %d", got, o)
		}
	}
	le := []byte("II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00\x06\x00\x00\x00\x00\x00\x00\x00")
	if got := exifOrientation(le); got != 6 {
		t.Errorf("little-endian orientation %d, want 6", got)
	}
	bad := bytes.Clone(le)
	bad[18] = 9
	if got := exifOrientation(bad); got != 1 {
		t.Errorf("orientation 9 read as %d, want 1", got)
	}
	for i := range le {
		exifOrientation(le[:i]) // no panic on short blocks
	}
}

// TestJPEGInfo checks the header facts and the scale choice.
func TestJPEGInfo(t *testing.T) {
	d, err := newJPEGDecoder(bytes.NewReader(readJPEGFixture(t, "prog420.jpg")))
	if err != nil {
		t.Fatal(err)
	}
	inf := d.info()
	if inf.width != 61 || inf.height != 47 || inf.components != 3 || !inf.progressive || inf.orientation != 1 {
		t.Errorf("info %+v", inf)
	}
	// 61x47: 1/2 gives 31x24, 1/4 16x12, 1/8 8x6.
	for _, c := range []struct {
		tw, th int
		budget int64
		scale  int
		ok     bool
	}{
		{4, 3, 1 << 20, 8, true},
		{5, 3, 1 << 20, 4, true},
		{15, 12, 1 << 20, 2, true},
		{16, 12, 1 << 20, 1, true},
		{100, 100, 1 << 20, 1, true},
		{15, 12, 2000, 4, true}, // 2x wants 1/2 (4 KB of coefficients); 1/4 fits
		{15, 12, 100, 2, false},
		// A source smaller than twice the thumbnail keeps all its detail,
		// though 1/2 would still cover the thumbnail.
		{30, 23, 1 << 20, 1, true},
	} {
		s, ok := d.scale(c.tw, c.th, c.budget)
		if s != c.scale || ok != c.ok {
			t.Errorf("scale(%d, %d, %d) = %d, %v; want %d, %v", c.tw, c.th, c.budget, s, ok, c.scale, c.ok)
		}
	}
	b, err := newJPEGDecoder(bytes.NewReader(readJPEGFixture(t, "b420.jpg")))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := b.scale(15, 12, 0); s != 2 || !ok {
		t.Errorf("baseline scale(15, 12, 0) = %d, %v; budget must not bind", s, ok)
	}
}

// acOnlyBomb is testimages.JPEGBomb: a progressive file of AC-only scans.
func acOnlyBomb(size, scans int) []byte { return testimages.JPEGBomb(size, scans) }

func allocDuring(f func()) uint64 {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	f()
	runtime.ReadMemStats(&m1)
	return m1.TotalAlloc - m0.TotalAlloc
}

// TestJPEGBombs: a tiny progressive file claiming 7071x7071 costs little
// at 1/8 (its AC scans are skipped unread and nothing is kept for them)
// and is refused from its header at 1/1 and 1/2 under a 64 MB budget; a
// file of 1000 scans is refused at scan 101.
func TestJPEGBombs(t *testing.T) {
	bomb := acOnlyBomb(7071, 3)
	t.Logf("bomb: %d bytes", len(bomb))
	const budget = 64 << 20
	for _, scale := range []int{8, 4, 2, 1} {
		var err error
		start := time.Now()
		alloc := allocDuring(func() {
			var d *jpegDecoder
			if d, err = newJPEGDecoder(bytes.NewReader(bomb)); err == nil {
				err = d.decode(context.Background(), scale, budget, discardSink{})
			}
		})
		el := time.Since(start)
		t.Logf("1/%d: %v, %d bytes allocated, %v", scale, err, alloc, el)
		switch {
		case scale == 8 && err != nil:
			t.Errorf("1/8: %v", err)
		case scale == 8 && alloc > 16<<20:
			t.Errorf("1/8: %d bytes allocated", alloc)
		case scale <= 2 && !errors.Is(err, ErrTooLarge):
			t.Errorf("1/%d: %v, want ErrTooLarge", scale, err)
		case scale <= 2 && alloc > 1<<20:
			t.Errorf("1/%d: %d bytes allocated before refusing", scale, alloc)
		}
		if el > 2*time.Second {
			t.Errorf("1/%d: took %v", scale, el)
		}
	}

	many := acOnlyBomb(64, 1000)
	start := time.Now()
	d, err := newJPEGDecoder(bytes.NewReader(many))
	if err == nil {
		err = d.decode(context.Background(), 1, budget, discardSink{})
	}
	if !errors.Is(err, ErrUnsupported) || time.Since(start) > 2*time.Second {
		t.Errorf("1000 scans: %v after %v, want ErrUnsupported quickly", err, time.Since(start))
	}
}

// errAfterReader serves data then fails with err at off.
type errAfterReader struct {
	data []byte
	off  int
	err  error
}

func (r *errAfterReader) Read(p []byte) (int, error) {
	if r.off <= 0 {
		return 0, r.err
	}
	n := copy(p[:min(len(p), r.off)], r.data)
	r.data, r.off = r.data[n:], r.off-n
	return n, nil
}

// TestJPEGBudgetFromHeader: the refusal comes before any scan is read.
func TestJPEGBudgetFromHeader(t *testing.T) {
	data := readJPEGFixture(t, "prog420.jpg")
	sos := bytes.Index(data, []byte{0xff, jpegSOS})
	hdrLen := sos + 2 + (int(data[sos+2])<<8 | int(data[sos+3]))
	boom := errors.New("read past the header")
	d, err := newJPEGDecoder(&errAfterReader{data: data, off: hdrLen + 2, err: boom})
	if err != nil {
		t.Fatal(err)
	}
	need := d.keptBytes(1)
	if need != (8*6+2*4*3)*(128+8) { // 4:2:0, 4x3 MCUs
		t.Errorf("keptBytes(1) = %d", need)
	}
	if err := d.decode(context.Background(), 1, need-1, discardSink{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("decode over budget: %v, want ErrTooLarge", err)
	}
}

// TestJPEGSourceFailure: a reader failing mid-scan gives its own error
// back, not ErrCorrupt; a file that simply ends early is ErrCorrupt.
func TestJPEGSourceFailure(t *testing.T) {
	boom := errors.New("connection reset")
	for _, name := range []string{"b420.jpg", "prog420.jpg", "rst-5.jpg"} {
		data := readJPEGFixture(t, name)
		for _, off := range []int{len(data) / 2, len(data) - 10} {
			d, err := newJPEGDecoder(&errAfterReader{data: data, off: off, err: boom})
			if err == nil {
				err = d.decode(context.Background(), 1, 1<<30, discardSink{})
			}
			if !errors.Is(err, boom) || errors.Is(err, ErrCorrupt) {
				t.Errorf("%s failing at %d: %v, want the reader's error", name, off, err)
			}
			d, err = newJPEGDecoder(bytes.NewReader(data[:off]))
			if err == nil {
				err = d.decode(context.Background(), 1, 1<<30, discardSink{})
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s cut at %d: %v, want ErrCorrupt", name, off, err)
			}
		}
	}
}

// jpegAgree decodes data with both decoders at scale 1 and reports
// whether they agree on accepting it.
func jpegAgree(t *testing.T, what string, data []byte) {
	t.Helper()
	_, refErr := jpeg.Decode(bytes.NewReader(data))
	_, _, _, _, err := decodeJPEG(data, 1)
	if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
		t.Errorf("%s: error %v is none of ours", what, err)
	}
	if (err == nil) != (refErr == nil) {
		t.Errorf("%s: ours %v, image/jpeg %v", what, err, refErr)
	}
}

// TestJPEGBrokenFiles: truncations, garbage, bad tables and markers are
// refused (or accepted) as image/jpeg does, without panicking.
func TestJPEGBrokenFiles(t *testing.T) {
	for _, name := range []string{"b420.jpg", "prog420.jpg", "rst-row.jpg", "grey.jpg"} {
		data := readJPEGFixture(t, name)
		for n := 0; n < len(data); n += 1 + n/16 {
			jpegAgree(t, name+" truncated", data[:n])
		}
		jpegAgree(t, name+" without EOI", data[:len(data)-2])
		jpegAgree(t, name+" garbage after SOI", append(append([]byte{0xff, 0xd8}, "garbage"...), data[2:]...))
		jpegAgree(t, name+" trailing garbage", append(bytes.Clone(data), "trailing"...))
	}
	data := readJPEGFixture(t, "b420.jpg")
	dht := bytes.Index(data, []byte{0xff, jpegDHT})
	dqt := bytes.Index(data, []byte{0xff, jpegDQT})

	b := bytes.Clone(data)
	clear(b[dht+5 : dht+5+16]) // no codes at all
	jpegAgree(t, "empty Huffman table", b)
	b = bytes.Clone(data)
	b[dht+5] = 5 // five 1-bit codes: overfull
	jpegAgree(t, "overfull Huffman table", b)
	b = bytes.Clone(data)
	b[dht+3] += 40 // DHT longer than its tables
	jpegAgree(t, "DHT overflow", b)
	b = bytes.Clone(data)
	b[dqt+3] -= 10 // DQT shorter than its table
	jpegAgree(t, "DQT overflow", b)
	b = bytes.Clone(data)
	b[dqt+4] = 0x25 // bad precision
	jpegAgree(t, "DQT precision", b)

	rst := readJPEGFixture(t, "rst-row.jpg")
	i := bytes.Index(rst, []byte{0xff, jpegRST0})
	b = bytes.Clone(rst)
	b[i+1] = jpegRST0 + 1
	jpegAgree(t, "RST out of order", b)
	if _, _, _, _, err := decodeJPEG(b, 1); !errors.Is(err, ErrCorrupt) {
		t.Errorf("RST out of order: %v", err)
	}

	// Random corruption of entropy-coded bytes.
	rng := rand.New(rand.NewPCG(1, 2))
	for _, name := range jpegFixtures {
		data := readJPEGFixture(t, name)
		for range 20 {
			b := bytes.Clone(data)
			for range 3 {
				b[len(b)/3+rng.IntN(len(b)*2/3-2)] = byte(rng.Uint32())
			}
			jpegAgree(t, name+" corrupted", b)
		}
	}
}

// cancelSink cancels its context after the first band.
type cancelSink struct {
	cancel context.CancelFunc
	bands  int
}

func (s *cancelSink) rows(y, n int, p []byte, stride int) {
	s.bands++
	s.cancel()
}

var bigJPEG = func() func() []byte {
	var b []byte
	return func() []byte {
		if b == nil {
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, smoothPhoto(2048, 1024, 5), &jpeg.Options{Quality: 90}); err != nil {
				panic(err)
			}
			b = buf.Bytes()
		}
		return b
	}
}()

// TestJPEGCancel: a context cancelled mid-decode stops it promptly with
// context.Canceled, and no goroutine outlives decode.
func TestJPEGCancel(t *testing.T) {
	for _, data := range [][]byte{bigJPEG(), acOnlyBomb(2048, 3)} {
		for _, scale := range []int{1, 2, 4, 8} {
			before := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(context.Background())
			d, err := newJPEGDecoder(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			s := &cancelSink{cancel: cancel}
			err = d.decode(ctx, scale, 1<<30, s)
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("1/%d: %v, want context.Canceled", scale, err)
			}
			if s.bands > 2 {
				t.Errorf("1/%d: %d bands after cancelling", scale, s.bands)
			}
			noLeak(t, fmt.Sprintf("1/%d", scale), before)
		}
	}
}

// TestJPEGLargeMatches checks a 2-megapixel image, large enough for the
// two-core paths, against image/jpeg at every scale.
func TestJPEGLargeMatches(t *testing.T) {
	twoProcs(t)
	data := bigJPEG()
	ref, w, h, ch := referenceRGB(t, data)
	for _, scale := range []int{1, 2, 4, 8} {
		got, _, _, _, err := decodeJPEG(data, scale)
		if err != nil {
			t.Fatalf("1/%d: %v", scale, err)
		}
		if scale == 1 {
			if d := maxAbsDiff(got, ref); d > 4 {
				t.Errorf("1/1: differs by up to %d", d)
			}
			continue
		}
		box := boxAverage(ref, w, h, ch, scale)
		var sum float64
		for i := range box {
			sum += math.Abs(box[i] - float64(got[i]))
		}
		if mean := sum / float64(len(box)); mean > 1.5 {
			t.Errorf("1/%d: mean difference %.2f", scale, mean)
		}
	}
}

// TestIDCTAccuracy compares the integer transforms with float ones.
func TestIDCTAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := range 2000 {
		var f [64]float64 // natural order
		for i := range f {
			if rng.IntN(3) == 0 || i == 0 {
				f[i] = float64(rng.IntN(512) - 256)
				if iter%2 == 0 {
					f[i] = math.Trunc(f[i] / float64(1+i))
				}
			}
		}
		full := func(x, y int) float64 {
			s := 0.0
			for v := range 8 {
				for u := range 8 {
					cu, cv := 1.0, 1.0
					if u == 0 {
						cu = 1 / math.Sqrt2
					}
					if v == 0 {
						cv = 1 / math.Sqrt2
					}
					s += cu * cv * f[8*v+u] * math.Cos(float64(2*x+1)*float64(u)*math.Pi/16) * math.Cos(float64(2*y+1)*float64(v)*math.Pi/16)
				}
			}
			return s/4 + 128
		}
		var blk [64]int32
		for i := range blk {
			blk[i] = int32(f[i])
		}
		var out [64]byte
		idct8(&blk, out[:], 8)
		for y := range 8 {
			for x := range 8 {
				want := math.Max(0, math.Min(255, math.Round(full(x, y))))
				if d := math.Abs(want - float64(out[8*y+x])); d > 1 {
					t.Fatalf("idct8 (%d,%d): %d, want %v", x, y, out[8*y+x], want)
				}
			}
		}
		// Reduced transforms: the mean of each group of the full
		// transform limited to the kept coefficients.
		for _, side := range []int{4, 2} {
			keep := f
			for i := range keep {
				if i>>3 >= side || i&7 >= side {
					keep[i] = 0
				}
			}
			saved := f
			f = keep
			var zz [64]int32
			for k, nat := range jpegZigzag {
				zz[k] = int32(f[nat])
			}
			out := make([]byte, side*side)
			if side == 4 {
				idct4(&zz, out, side)
			} else {
				idct2(&zz, out, side)
			}
			if zz != ([64]int32{}) {
				t.Fatalf("idct%d left coefficients behind", side)
			}
			g := 8 / side
			for n := range side {
				for m := range side {
					s := 0.0
					for y := n * g; y < n*g+g; y++ {
						for x := m * g; x < m*g+g; x++ {
							s += full(x, y)
						}
					}
					want := math.Max(0, math.Min(255, math.Round(s/float64(g*g))))
					if d := math.Abs(want - float64(out[n*side+m])); d > 1 {
						t.Fatalf("idct%d (%d,%d): %d, want %v", side, m, n, out[n*side+m], want)
					}
				}
			}
			f = saved
		}
	}
}

// TestJPEGSplit: the two-core paths give exactly what one core gives, and
// the helper's blocks are used (with a restart marker to start from, and
// speculatively without), whether the scan is in one chunk or crosses
// many (the markers read in small pieces, then the rest).
func TestJPEGSplit(t *testing.T) {
	twoProcs(t)
	defer func(p int64, b, c int) {
		jpegParPixels, jpegParBytes, jpegChunkSize = p, b, c
	}(jpegParPixels, jpegParBytes, jpegChunkSize)
	defer func(f func(int, int, int)) { jpegDebug = f }(jpegDebug)
	handoff := -1
	jpegDebug = func(h, total, syncIdx int) { handoff = h }
	defer func() { jpegAwaitSplit = false }()
	jpegAwaitSplit = true
	type splitCase struct {
		name string
		data []byte
		must bool
	}
	var more []splitCase
	for i, sz := range [][2]int{{301, 203}, {640, 480}, {517, 389}, {800, 150}} {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, smoothPhoto(sz[0], sz[1], uint64(i)), &jpeg.Options{Quality: 50 + 10*i}); err != nil {
			t.Fatal(err)
		}
		more = append(more, splitCase{fmt.Sprint(sz), b.Bytes(), false})
	}
	for _, c := range append([]splitCase{
		{"big", bigJPEG(), true},
		{"rst-5.jpg", readJPEGFixture(t, "rst-5.jpg"), true},
		{"rst-row.jpg", readJPEGFixture(t, "rst-row.jpg"), true},
		{"rst-grey.jpg", readJPEGFixture(t, "rst-grey.jpg"), true},
		{"b420.jpg", readJPEGFixture(t, "b420.jpg"), false},
	}, more...) {
		for _, scale := range []int{8, 4} {
			jpegParPixels, jpegParBytes = 1<<62, 0
			want, _, _, _, err := decodeJPEG(c.data, scale)
			if err != nil {
				t.Fatal(err)
			}
			for _, chunk := range []int{64<<10 - jpegChunkHead, 1000, 7} {
				jpegParPixels, jpegChunkSize, handoff = 0, chunk, -2
				got, err := decodeFrom(context.Background(), splitReaders(t, c.data)["head-trickle"](), scale)
				if err != nil {
					t.Fatalf("%s 1/%d split, %d-byte chunks: %v", c.name, scale, chunk, err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s 1/%d, %d-byte chunks: split decode differs by up to %d", c.name, scale, chunk, maxAbsDiff(got, want))
				}
				if c.must && handoff < 0 {
					t.Errorf("%s 1/%d, %d-byte chunks: helper not used (%d)", c.name, scale, chunk, handoff)
				}
			}
		}
	}
}

// TestJPEGSplitBudget: with too little budget to hold half the scan's
// bytes the two-core path falls back to streaming, with the same result;
// with room for half but not the whole, it splits, within half the
// budget.
func TestJPEGSplitBudget(t *testing.T) {
	twoProcs(t)
	defer func(f func(int64, int64)) { jpegChainDebug = f }(jpegChainDebug)
	chains, peak := 0, int64(0)
	jpegChainDebug = func(p, l int64) { chains, peak = chains+1, p }
	data := bigJPEG()
	want, w, _, _, err := decodeJPEG(data, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer func(c int) { jpegChunkSize = c }(jpegChunkSize)
	jpegChunkSize = 4096
	split := int64(len(data)) + 128<<10 // half the scan and some chunks fit in half of it
	for _, c := range []struct {
		r      io.Reader
		budget int64
		chain  bool
	}{
		{bytes.NewReader(data), 64 << 10, false},
		{io.MultiReader(bytes.NewReader(data)), 64 << 10, false},
		{bytes.NewReader(data), split, true},
	} {
		chains, peak = 0, 0
		d, err := newJPEGDecoder(c.r)
		if err != nil {
			t.Fatal(err)
		}
		s := &collectSink{w: w, ch: 3}
		if err := d.decode(context.Background(), 8, c.budget, s); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s.pix, want) {
			t.Errorf("%T, budget %d: decode differs", c.r, c.budget)
		}
		if (chains > 0) != c.chain || peak > c.budget/2 {
			t.Errorf("%T, budget %d: %d chains, holding up to %d bytes", c.r, c.budget, chains, peak)
		}
	}
}

// TestJPEGAdobeRGB: a 3-component file with an Adobe marker saying
// "transform 0" and no JFIF marker holds RGB, as image/jpeg reads it.
func TestJPEGAdobeRGB(t *testing.T) {
	data := readJPEGFixture(t, "b444.jpg")
	if data[2] != 0xff || data[3] != jpegAPP0 {
		t.Fatal("fixture has no APP0 first")
	}
	app0 := 4 + (int(data[4])<<8 | int(data[5]))
	adobe := []byte{0xff, jpegAPP14, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0}
	rgb := append(append([]byte{0xff, 0xd8}, adobe...), data[app0:]...)
	d, err := newJPEGDecoder(bytes.NewReader(rgb))
	if err != nil {
		t.Fatal(err)
	}
	if m, err := d.colourModel(); err != nil || m != jpegRGB {
		t.Fatalf("colour model %d, %v; want RGB", m, err)
	}
	ref, _, _, _ := referenceRGB(t, rgb)
	got, _, _, _, err := decodeJPEG(rgb, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(got, ref); d > 2 {
		t.Errorf("RGB differs by up to %d from image/jpeg's", d)
	}
}
