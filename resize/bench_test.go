package resize_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"sync"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
	"github.com/iron-thumbs/iron_thumbs/resize"
)

// sources are the benchmark's three source sizes, drawn once.
var sources = sync.OnceValue(func() []struct {
	name string
	data []byte
} {
	return []struct {
		name string
		data []byte
	}{
		{"400x400", testimages.EncodePNG(testimages.Illustration(400, 400))},
		{"1920x1080", testimages.EncodePNG(testimages.Screenshot(1920, 1080))},
		{"4000x3000", testimages.EncodePNG(testimages.Photo(4000, 3000, 1))},
	}
})

// BenchmarkThumbnail measures a whole thumbnail per source size, 180 px
// wide as in the 2017 benchmark, and its encoding alone. Decoding and
// resampling are one streaming step. Bytes are the source's encoded size.
func BenchmarkThumbnail(b *testing.B) {
	for _, src := range sources() {
		b.Run(fmt.Sprintf("all/%s", src.name), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(src.data)))
			for b.Loop() {
				if _, err := resize.Thumbnail(context.Background(), bytes.NewReader(src.data), resize.Options{Width: 180}); err != nil {
					b.Fatal(err)
				}
			}
		})
		thumb := thumbnailPixels(b, src.data, 180)
		b.Run(fmt.Sprintf("encode/%s", src.name), func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				data, _, err := resize.Encode(thumb, "png")
				if err != nil {
					b.Fatal(err)
				}
				n = len(data)
			}
			b.ReportMetric(float64(n), "bytes")
		})
	}
}

// thumbnailPixels returns the pixels of src's thumbnail of width.
func thumbnailPixels(b *testing.B, src []byte, width int) *image.NRGBA {
	res, err := resize.Thumbnail(context.Background(), bytes.NewReader(src), resize.Options{Width: width})
	if err != nil {
		b.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(res.Data))
	if err != nil {
		b.Fatal(err)
	}
	return imaging.Clone(img)
}

// BenchmarkEncodeLevels weighs encoding time against size (the bytes
// metric) for the 180 px thumbnails of each source, per zlib level.
func BenchmarkEncodeLevels(b *testing.B) {
	for _, src := range sources() {
		thumb := thumbnailPixels(b, src.data, 180)
		for _, level := range []png.CompressionLevel{png.BestSpeed, png.DefaultCompression, png.BestCompression} {
			b.Run(fmt.Sprintf("%s/level-%d", src.name, level), func(b *testing.B) {
				e := png.Encoder{CompressionLevel: level}
				var n int
				for b.Loop() {
					var buf bytes.Buffer
					e.Encode(&buf, thumb)
					n = buf.Len()
				}
				b.ReportMetric(float64(n), "bytes")
			})
		}
	}
}

// BenchmarkStraightforward is the path this package improves on, for
// comparison in the same run: image/png decode, imaging Lanczos, image/png
// encode at the default level.
func BenchmarkStraightforward(b *testing.B) {
	for _, src := range sources() {
		b.Run(src.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(src.data)))
			for b.Loop() {
				img, err := png.Decode(bytes.NewReader(src.data))
				if err != nil {
					b.Fatal(err)
				}
				thumb := imaging.Resize(img, 180, 0, imaging.Lanczos)
				var buf bytes.Buffer
				if err := png.Encode(&buf, thumb); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
