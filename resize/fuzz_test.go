package resize_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/iron-thumbs/iron_thumbs/resize"
)

// FuzzThumbnail feeds decode then resize any bytes, seeded from
// testdata/, with the pixel cap on: no panic, no unbounded memory, and
// every failure one of the package's errors. The cap is low because
// coverage-instrumented decoding of megapixel mutants crawls.
func FuzzThumbnail(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err == nil && len(b) < 8<<10 {
			f.Add(b, 17)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, width int) {
		if len(data) > 64<<10 {
			return
		}
		if width < 1 || width > 512 {
			width = 1 + (width&0xff)%512
		}
		res, err := resize.Thumbnail(context.Background(), bytes.NewReader(data), resize.Options{Width: width, MaxPixels: 1 << 16})
		if err != nil {
			if !errors.Is(err, resize.ErrUnsupported) && !errors.Is(err, resize.ErrCorrupt) && !errors.Is(err, resize.ErrTooLarge) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if res.Width < 1 || res.Width > width || res.Height < 1 || len(res.Data) == 0 {
			t.Fatalf("result %dx%d, %d bytes for width %d", res.Width, res.Height, len(res.Data), width)
		}
	})
}
