package resize

import (
	"bytes"
	"flag"
	"image/png"
	"path/filepath"

	"image"
	"os"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
)

var jpegSourceFlag = flag.String("jpeg.source", "", "write the fixtures' source picture (PNG) to this file")

// TestJPEGFixtureSource keeps testdata/jpeg/src.png, the picture the
// fixtures were made from (see its README), what smoothPhoto draws; with
// -jpeg.source FILE it writes the picture there.
func TestJPEGFixtureSource(t *testing.T) {
	want := smoothPhoto(61, 47, 7)
	if *jpegSourceFlag != "" {
		if err := os.WriteFile(*jpegSourceFlag, testimages.EncodePNG(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(filepath.Join("..", "testdata", "jpeg", "src.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	if n := imaging.Clone(img); !bytes.Equal(n.Pix, want.Pix) {
		t.Error("testdata/jpeg/src.png is not what smoothPhoto draws: the fixtures' README says how to remake it")
	}
}

// smoothPhoto is testimages.Photo under a 3x3 box blur: the photo's
// shapes and texture with a third of its pixel noise, closer to what a
// camera's denoised output holds. (Photo's independent noise of +-15 a
// channel puts most of its energy in the frequencies reduced decoding
// drops, so no DCT-domain scaling could match a box filter on it.)
func smoothPhoto(w, h int, seed uint64) *image.NRGBA {
	src := testimages.Photo(w, h, seed)
	dst := image.NewNRGBA(src.Rect)
	for y := range h {
		for x := range w {
			for c := range 4 {
				sum, n := 0, 0
				for yy := max(0, y-1); yy <= min(h-1, y+1); yy++ {
					for xx := max(0, x-1); xx <= min(w-1, x+1); xx++ {
						sum += int(src.Pix[yy*src.Stride+4*xx+c])
						n++
					}
				}
				dst.Pix[y*dst.Stride+4*x+c] = uint8((sum + n/2) / n)
			}
		}
	}
	return dst
}
