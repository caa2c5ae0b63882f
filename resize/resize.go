// Package resize turns a source image into a thumbnail: it checks the
// image's header against limits, decodes, resizes with a Lanczos filter
// keeping the aspect ratio, and encodes the result.
//
// It knows pixels only; where the bytes come from and go to is the
// caller's business.
package resize

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"sync"
	"time"

	"github.com/disintegration/imaging"
)

// Errors Thumbnail reports, wrapped with detail; test with errors.Is.
var (
	// ErrUnsupported means the bytes are not an image in a format we read.
	ErrUnsupported = errors.New("resize: unsupported image format")
	// ErrCorrupt means the header was readable but the image data is not.
	ErrCorrupt = errors.New("resize: corrupt image")
	// ErrTooLarge means the image has more pixels than allowed.
	ErrTooLarge = errors.New("resize: image too large")
)

// Options say what thumbnail to make.
type Options struct {
	// Width is the thumbnail's width in pixels. A width larger than the
	// source's gives a thumbnail at the source's width: we never enlarge.
	Width int
	// MaxPixels bounds width×height of the source, checked from its
	// header before any pixel is decoded. Zero means no bound.
	MaxPixels int64
	// JPEGQuality is the quality of JPEG thumbnails, 1 to 100; 85 when zero.
	JPEGQuality int
}

// Result is a finished thumbnail and what it cost.
type Result struct {
	// Data is the encoded thumbnail.
	Data []byte
	// ContentType is image/png or image/jpeg.
	ContentType string
	// Width and Height are the thumbnail's size; SrcWidth and SrcHeight
	// the source's, after EXIF orientation.
	Width, Height       int
	SrcWidth, SrcHeight int
	// Phase durations.
	Decode, Resize, Encode time.Duration
}

// Thumbnail makes a thumbnail of src, a PNG, JPEG or GIF (first frame).
// PNG and GIF sources give PNG thumbnails, JPEG sources JPEG thumbnails.
// JPEG EXIF orientation is applied, so the thumbnail comes out upright.
func Thumbnail(src []byte, o Options) (*Result, error) {
	if o.Width < 1 {
		return nil, fmt.Errorf("resize: width %d: must be positive", o.Width)
	}
	t0 := time.Now()
	img, format, err := Decode(src, o.MaxPixels)
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	thumb := Resize(img, o.Width)
	t2 := time.Now()
	data, ctype, err := Encode(thumb, format, o.JPEGQuality)
	if err != nil {
		return nil, err
	}
	t3 := time.Now()
	b := img.Bounds()
	tb := thumb.Bounds()
	return &Result{
		Data: data, ContentType: ctype,
		Width: tb.Dx(), Height: tb.Dy(),
		SrcWidth: b.Dx(), SrcHeight: b.Dy(),
		Decode: t1.Sub(t0), Resize: t2.Sub(t1), Encode: t3.Sub(t2),
	}, nil
}

// Config reads the source's format and size from its header only.
func Config(src []byte) (image.Config, string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return cfg, "", fmt.Errorf("%w: not a PNG, JPEG or GIF image", ErrUnsupported)
		}
		return cfg, format, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return cfg, format, nil
}

// Decode checks the source's header against maxPixels (zero: no bound),
// then decodes it. JPEG EXIF orientation is applied.
func Decode(src []byte, maxPixels int64) (image.Image, string, error) {
	cfg, format, err := Config(src)
	if err != nil {
		return nil, "", err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, "", fmt.Errorf("%w: %dx%d image", ErrCorrupt, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); maxPixels > 0 && px > maxPixels {
		return nil, "", fmt.Errorf("%w: %dx%d is %d pixels, more than the limit of %d",
			ErrTooLarge, cfg.Width, cfg.Height, px, maxPixels)
	}
	var img image.Image
	switch format {
	case "jpeg":
		img, err = imaging.Decode(bytes.NewReader(src), imaging.AutoOrientation(true))
	case "png":
		img, err = png.Decode(bytes.NewReader(src))
	case "gif":
		img, err = gif.Decode(bytes.NewReader(src)) // the first frame only
	default:
		return nil, "", fmt.Errorf("%w: %s", ErrUnsupported, format)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s: %v", ErrCorrupt, format, err)
	}
	return img, format, nil
}

// Resize scales img to width pixels wide, keeping the aspect ratio with the
// height rounded to the nearest pixel, with a Lanczos filter. A width
// larger than the image's keeps the image's own width.
func Resize(img image.Image, width int) image.Image {
	b := img.Bounds()
	if width >= b.Dx() {
		return imaging.Clone(img)
	}
	return imaging.Resize(img, width, 0, imaging.Lanczos)
}

// pngBuffers lets successive PNG encodes reuse their compressor state.
type pngBuffers struct{ p sync.Pool }

func (b *pngBuffers) Get() *png.EncoderBuffer  { v, _ := b.p.Get().(*png.EncoderBuffer); return v }
func (b *pngBuffers) Put(e *png.EncoderBuffer) { b.p.Put(e) }

var pngEncoder = png.Encoder{CompressionLevel: png.DefaultCompression, BufferPool: &pngBuffers{}}

// Encode writes img as PNG, or as JPEG when the source was a JPEG.
func Encode(img image.Image, srcFormat string, jpegQuality int) ([]byte, string, error) {
	var buf bytes.Buffer
	if srcFormat == "jpeg" {
		if jpegQuality == 0 {
			jpegQuality = 85
		}
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality}); err != nil {
			return nil, "", fmt.Errorf("resize: encode jpeg: %w", err)
		}
		return buf.Bytes(), "image/jpeg", nil
	}
	if err := pngEncoder.Encode(&buf, img); err != nil {
		return nil, "", fmt.Errorf("resize: encode png: %w", err)
	}
	return buf.Bytes(), "image/png", nil
}
