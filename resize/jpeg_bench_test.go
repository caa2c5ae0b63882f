package resize

import (
	"bytes"
	"context"
	"image/jpeg"
	"sync"
	"testing"

	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
)

// benchJPEGs are camera-like sources: testimages.Photo encoded by
// image/jpeg at quality 90 (baseline 4:2:0), drawn once.
var benchJPEGs = sync.OnceValue(func() map[string][]byte {
	m := map[string][]byte{}
	for _, s := range []struct {
		name string
		w, h int
	}{{"12MP", 4000, 3000}, {"48MP", 8000, 6000}} {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, testimages.Photo(s.w, s.h, 11), &jpeg.Options{Quality: 90}); err != nil {
			panic(err)
		}
		m[s.name] = b.Bytes()
	}
	return m
})

// BenchmarkJPEGDecode decodes each source into a discarding sink at 1/8
// (on two cores and on one), 1/4, 1/2 and 1/1, and with
// image/jpeg.Decode, so one run gives the ratios.
func BenchmarkJPEGDecode(b *testing.B) {
	srcs := benchJPEGs()
	for _, name := range []string{"12MP", "48MP"} {
		data := srcs[name]
		for _, c := range []struct {
			scale   int
			oneCore bool
		}{{8, false}, {8, true}, {4, false}, {2, false}, {1, false}} {
			scale := c.scale
			sub := name + "/scale" + string(rune('0'+scale))
			if c.oneCore {
				sub += "-onecore"
			}
			b.Run(sub, func(b *testing.B) {
				if c.oneCore {
					defer func(p int64) { jpegParPixels = p }(jpegParPixels)
					jpegParPixels = 1 << 62
				}
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					d, err := newJPEGDecoder(bytes.NewReader(data))
					if err != nil {
						b.Fatal(err)
					}
					if err := d.decode(context.Background(), scale, 1<<30, discardSink{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(name+"/image-jpeg", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
