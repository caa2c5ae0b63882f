package resize

import (
	"bufio"
	"bytes"
	"image/png"
	"testing"

	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
)

func BenchmarkResample400(b *testing.B) {
	img := testimages.Illustration(400, 400)
	b.Run("ours", func(b *testing.B) {
		for b.Loop() {
			resample(img, 400, 400, 1, 1, 180, 180)
		}
	})
	b.Run("imaging", func(b *testing.B) {
		for b.Loop() {
			resizeTo(img, 180, 180)
		}
	})
}

func BenchmarkDecode400(b *testing.B) {
	src := testimages.EncodePNG(testimages.Illustration(400, 400))
	b.Run("stream", func(b *testing.B) {
		for b.Loop() {
			br := bufio.NewReader(bytes.NewReader(src))
			info, _, _ := peekPNGHeader(br)
			s := newFullSink(info.width, info.height)
			if err := decodePNGStream(br, info, s, false); err != nil {
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
