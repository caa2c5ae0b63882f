package resize

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"runtime"
	"testing"
)

// collectSink keeps every row it is given.
type collectSink struct {
	w, ch int
	pix   []byte
	next  int
	bad   bool
}

func (s *collectSink) rows(y, n int, p []byte, stride int) {
	if y != s.next {
		s.bad = true
	}
	s.next = y + n
	for i := range n {
		s.pix = append(s.pix, p[i*stride:i*stride+s.w*s.ch]...)
	}
}

// decodeJPEG decodes data at scale with our decoder into packed rows.
func decodeJPEG(data []byte, scale int) (pix []byte, w, h, ch int, err error) {
	d, err := newJPEGDecoder(bytes.NewReader(data))
	if err != nil {
		return nil, 0, 0, 0, err
	}
	inf := d.info()
	w, h = (inf.width+scale-1)/scale, (inf.height+scale-1)/scale
	ch = 3
	if inf.components == 1 {
		ch = 1
	}
	s := &collectSink{w: w, ch: ch}
	if err := d.decode(context.Background(), scale, 1<<30, s); err != nil {
		return nil, w, h, ch, err
	}
	if s.bad || len(s.pix) != w*h*ch {
		panic("sink got rows out of order")
	}
	return s.pix, w, h, ch, nil
}

// referenceRGB decodes with image/jpeg and converts to packed RGB (or grey).
func referenceRGB(t testing.TB, data []byte) (pix []byte, w, h, ch int) {
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("image/jpeg: %v", err)
	}
	b := img.Bounds()
	w, h = b.Dx(), b.Dy()
	if g, ok := img.(*image.Gray); ok {
		for y := range h {
			pix = append(pix, g.Pix[y*g.Stride:y*g.Stride+w]...)
		}
		return pix, w, h, 1
	}
	for y := range h {
		for x := range w {
			var r, g, bb uint8
			switch m := img.(type) {
			case *image.YCbCr:
				c := m.YCbCrAt(x, y)
				r, g, bb = color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
			default:
				rr, gg, b2, _ := img.At(x, y).RGBA()
				r, g, bb = uint8(rr>>8), uint8(gg>>8), uint8(b2>>8)
			}
			pix = append(pix, r, g, bb)
		}
	}
	return pix, w, h, 3
}

// twoProcs gives the test at least two Ps, whatever the machine's cores,
// so that the decoder takes its two-core paths (it decides by GOMAXPROCS).
func twoProcs(t *testing.T) {
	t.Helper()
	if p := runtime.GOMAXPROCS(0); p < 2 {
		runtime.GOMAXPROCS(2)
		t.Cleanup(func() { runtime.GOMAXPROCS(p) })
	}
}
