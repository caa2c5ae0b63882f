package resize

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"

	"github.com/disintegration/imaging"
)

// orient turns a thumbnail made in the source's stored orientation
// upright, as its EXIF orientation says.
func orient(img *image.NRGBA, orientation int) *image.NRGBA {
	switch orientation {
	case 2:
		return imaging.FlipH(img)
	case 3:
		return imaging.Rotate180(img)
	case 4:
		return imaging.FlipV(img)
	case 5:
		return imaging.Transpose(img)
	case 6:
		return imaging.Rotate270(img)
	case 7:
		return imaging.Transverse(img)
	case 8:
		return imaging.Rotate90(img)
	}
	return img
}

// encode writes img as PNG (encodePNG: the smallest file we can make), or
// as JPEG when the source was a JPEG. Buffers are sized once for the worst
// case, so they never grow by copying.
func encode(ctx context.Context, img *image.NRGBA, srcFormat string, jpegQuality int) ([]byte, string, error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	if srcFormat == "jpeg" {
		if jpegQuality == 0 {
			jpegQuality = 85
		}
		buf := bytes.NewBuffer(make([]byte, 0, 3*w*h/2+64<<10))
		if err := jpeg.Encode(&ctxWriter{ctx, buf}, img, &jpeg.Options{Quality: jpegQuality}); err != nil {
			return nil, "", encodeErr(ctx, "jpeg", err)
		}
		return buf.Bytes(), "image/jpeg", nil
	}
	data, err := encodePNG(ctx, img)
	if err != nil {
		return nil, "", encodeErr(ctx, "png", err)
	}
	return data, "image/png", nil
}

func encodeErr(ctx context.Context, format string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("resize: encode %s: %w", format, err)
}

// ctxWriter fails once ctx has ended, so an encoder writing through it
// stops at its next write.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
