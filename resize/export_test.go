package resize

import (
	"context"
	"image"
)

// Encode is the encoding step alone, for the benchmarks of the external
// test package.
func Encode(img *image.NRGBA, format string) ([]byte, string, error) {
	return encode(context.Background(), img, format, 0)
}
