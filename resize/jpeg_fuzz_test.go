package resize

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// FuzzJPEG decodes the fuzzer's bytes with our decoder and image/jpeg:
// no panic, no hang, the same decision on files both support, and at
// scale 1 samples within 2 when both accept (unless coefficients went
// beyond what 8-bit data holds, where two integer IDCTs may overflow
// differently). Pixel counts are capped to keep the fuzzer fast.
func FuzzJPEG(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "jpeg", "*.jpg"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add(acOnlyBomb(64, 3))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, cfgErr := jpeg.DecodeConfig(bytes.NewReader(data))
		if cfgErr == nil && cfg.Width*cfg.Height > 1<<16 {
			return
		}
		d, err := newJPEGDecoder(bytes.NewReader(data))
		if err == nil {
			inf := d.info()
			if inf.width*inf.height > 1<<16 {
				return
			}
		}
		// Every scale: no panic, errors are ours, and the two-core
		// paths (forced on, whatever the size) give what one core gives,
		// the scan crossing chunks of a few bytes (the markers come in
		// small reads, so that the file's start is not all one chunk).
		// The split's goroutines share one P here: they take turns
		// where they block, the same way each run, so that the fuzzer
		// sees the same coverage for the same input (on two, the
		// interleavings differ every run and it spends its time
		// minimizing inputs that were only lucky; the unit tests and
		// the race detector look after those).
		for _, scale := range []int{8, 4, 2} {
			pix, _, _, _, err := decodeJPEG(data, scale)
			checkJPEGErr(t, err)
			if errors.Is(err, ErrUnsupported) {
				continue
			}
			head := bytes.Index(data, []byte{0xff, jpegSOS}) + 16
			r := &chopReader{data: data, limit: func(off int) int {
				if off < head {
					return 16
				}
				return len(data)
			}}
			restore := forceSplit(1 + len(data)%61)
			procs := runtime.GOMAXPROCS(1)
			jpegParProcs, jpegAwaitSplit = 1, true
			pix2, err2 := decodeFrom(context.Background(), r, scale)
			jpegParProcs, jpegAwaitSplit = 2, false
			runtime.GOMAXPROCS(procs)
			restore()
			if (err == nil) != (err2 == nil) || !bytes.Equal(pix, pix2) {
				t.Fatalf("1/%d: one core: %v; two: %v; pixels equal: %v", scale, err, err2, bytes.Equal(pix, pix2))
			}
		}
		var planes [][]byte
		if err == nil {
			planes = make([][]byte, d.ncomp)
			widths := make([]int, d.ncomp)
			for c := range d.ncomp {
				k := &d.comps[c]
				widths[c] = (d.hdr.width*k.h + d.hmax - 1) / d.hmax
			}
			d.rawHook = func(c, y0, n int, p []byte, stride int) {
				k := &d.comps[c]
				ch := (d.hdr.height*k.v + d.vmax - 1) / d.vmax
				for r := range n {
					if y0+r < ch {
						planes[c] = append(planes[c], p[r*stride:r*stride+widths[c]]...)
					}
				}
			}
			jpegCheckRange = true
			jpegRangeHit.Store(false)
			err = d.decode(context.Background(), 1, 64<<20, discardSink{})
			jpegCheckRange = false
		}
		checkJPEGErr(t, err)
		img, refErr := jpeg.Decode(bytes.NewReader(data))
		var unsupported jpeg.UnsupportedError
		if errors.Is(err, ErrUnsupported) || errors.As(refErr, &unsupported) {
			return
		}
		if d == nil {
			return
		}
		if d.hdr.width == 0 || d.hdr.height == 0 || d.sof == 0 {
			return
		}
		// Known differences: image/jpeg counts restart intervals of
		// non-interleaved scans in MCUs of the interleaved grid.
		if d.ri > 0 && d.buffered && d.hdr.components > 1 {
			return
		}
		if (err == nil) != (refErr == nil) {
			t.Fatalf("ours: %v; image/jpeg: %v", err, refErr)
		}
		if err != nil || d.wild || jpegRangeHit.Load() {
			return
		}
		var want [][]byte
		switch m := img.(type) {
		case *image.Gray:
			want = [][]byte{crop(m.Pix, m.Stride, m.Rect.Dx(), m.Rect.Dy())}
		case *image.YCbCr:
			want = [][]byte{crop(m.Y, m.YStride, m.Rect.Dx(), m.Rect.Dy())}
		}
		for c := range want {
			if len(planes[c]) != len(want[c]) {
				t.Fatalf("component %d: %d samples, image/jpeg %d", c, len(planes[c]), len(want[c]))
			}
			if diff := maxAbsDiff(planes[c], want[c]); diff > 2 {
				t.Fatalf("component %d differs by up to %d", c, diff)
			}
		}
	})
}

func checkJPEGErr(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v is none of the package's", err)
	}
}
