package resize

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"sync"

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

// pngBuffers lets successive PNG encodes reuse their compressor state.
type pngBuffers struct{ p sync.Pool }

func (b *pngBuffers) Get() *png.EncoderBuffer  { v, _ := b.p.Get().(*png.EncoderBuffer); return v }
func (b *pngBuffers) Put(e *png.EncoderBuffer) { b.p.Put(e) }

// pngEncoder writes thumbnails with zlib level 1 (BestSpeed). Measured by
// BenchmarkEncodeLevels on the 180 px thumbnails of the bench images, the
// default level 6 makes them 5 to 20% smaller but takes up to ten times
// as long (17 ms against 1.8 ms for the 12 MP photo's): a miss would spend
// more on encoding 24 KB than on resizing 12 megapixels.
var pngEncoder = png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &pngBuffers{}}

// maxPNGBytes bounds the PNG of a w×h NRGBA image: every row stored raw
// with its filter byte, deflate's stored blocks (5 bytes each 16 KiB at
// worst), the chunks' own bytes.
func maxPNGBytes(w, h int) int {
	raw := h * (1 + 4*w)
	return raw + 5*(raw/16384+1) + 12*(raw/8192+1) + 1024
}

// encode writes img as PNG, or as JPEG when the source was a JPEG. The
// buffer is sized once for the worst case, so it never grows by copying.
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
	buf := bytes.NewBuffer(make([]byte, 0, maxPNGBytes(w, h)))
	if err := pngEncoder.Encode(&ctxWriter{ctx, buf}, img); err != nil {
		return nil, "", encodeErr(ctx, "png", err)
	}
	return buf.Bytes(), "image/png", nil
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
