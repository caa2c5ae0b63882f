package resize

import (
	"bytes"
	"testing"

	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
)

// TestRowFormatsAgree: grey, RGB and NRGBA rows of the same opaque pixels
// make the same thumbnail, through the box shrink and without it.
func TestRowFormatsAgree(t *testing.T) {
	img := testimages.Photo(300, 200, 3)
	w, h := 300, 200
	gray := make([][]byte, h)
	for y := range h {
		gray[y] = make([]byte, w)
		for x := range w {
			gray[y][x] = img.Pix[y*img.Stride+4*x+1]
		}
	}
	for _, size := range [][2]int{{20, 13}, {150, 100}, {300, 200}} {
		make1 := func(feed func(s rowSink, y int)) []byte {
			s, r := newPipeline(w, h, size[0], size[1])
			for y := range h {
				feed(s, y)
			}
			return r.finish().Pix
		}
		viaGray := make1(func(s rowSink, y int) { s.rowGray(y, gray[y]) })
		viaRGB := make1(func(s rowSink, y int) {
			row := make([]byte, 3*w)
			for x := range w {
				row[3*x], row[3*x+1], row[3*x+2] = gray[y][x], gray[y][x], gray[y][x]
			}
			s.rowRGB(y, row)
		})
		viaNRGBA := make1(func(s rowSink, y int) {
			row := make([]byte, 4*w)
			for x := range w {
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = gray[y][x], gray[y][x], gray[y][x], 255
			}
			s.row(y, row)
		})
		if !bytes.Equal(viaGray, viaNRGBA) || !bytes.Equal(viaRGB, viaNRGBA) {
			t.Errorf("%dx%d: grey, RGB and NRGBA rows make different thumbnails", size[0], size[1])
		}
	}
}
