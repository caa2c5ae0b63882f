package resize

import (
	"bufio"
	"bytes"
	"context"
	"image/png"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
)

// BenchmarkResample400 is the Lanczos step alone, 400 px to 180, against
// imaging's.
func BenchmarkResample400(b *testing.B) {
	img := testimages.Illustration(400, 400)
	b.Run("ours", func(b *testing.B) {
		for b.Loop() {
			r := newReducer(400, 400, 1, 1, 180, 180, true)
			for y := range 400 {
				r.row(y, img.Pix[y*img.Stride:])
			}
			r.finish()
		}
	})
	b.Run("imaging", func(b *testing.B) {
		for b.Loop() {
			imaging.Resize(img, 180, 180, imaging.Lanczos)
		}
	})
}

func BenchmarkDecode400(b *testing.B) {
	src := testimages.EncodePNG(testimages.Illustration(400, 400))
	b.Run("stream", func(b *testing.B) {
		for b.Loop() {
			br := bufio.NewReader(bytes.NewReader(src))
			info, _, _ := peekPNGHeader(br)
			r := newReducer(info.width, info.height, 1, 1, info.width, info.height, true)
			if err := decodePNGStream(context.Background(), br, info, pngOut{sink: r}, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("image-png", func(b *testing.B) {
		for b.Loop() {
			png.Decode(bytes.NewReader(src))
		}
	})
}
