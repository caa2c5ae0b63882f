// Package resize turns a source image into a thumbnail: it checks the
// image's header against limits, decodes, resizes with a Lanczos filter
// keeping the aspect ratio, and encodes the result.
//
// It knows pixels only; where the bytes come from and go to is the
// caller's business.
package resize

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
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
	// MaxBytes bounds the bytes read from the source. Zero means no bound.
	MaxBytes int64
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
	// Phase durations. Decode includes reading the source, which streams.
	Decode, Resize, Encode time.Duration
}

// shrinkFactor is how much wider than the thumbnail the shrink-on-load
// step leaves the image for the Lanczos filter: enough that the box
// average does not show.
const shrinkFactor = 3

// minCells is the fewest cells per axis the shrink leaves, so that tiny
// thumbnails still see the whole picture's detail.
const minCells = 48

// pipelinePixels is the size from which a PNG is inflated on one core
// while another unfilters and shrinks it. Smaller images are not worth
// the goroutines.
const pipelinePixels = 1 << 20

// Thumbnail makes a thumbnail of the source read from r, a PNG, JPEG or
// GIF (first frame). PNG and GIF sources give PNG thumbnails, JPEG sources
// JPEG thumbnails. JPEG EXIF orientation is applied, so the thumbnail comes
// out upright.
//
// A PNG is decoded as its bytes arrive, and a large one is shrunk on load:
// rows are box-averaged to about three times the thumbnail's size as they
// are decoded, so memory stays a few rows plus the small image, whatever
// the source's size. Other sources are read whole (within MaxBytes) and
// decoded by the standard library.
func Thumbnail(r io.Reader, o Options) (*Result, error) {
	if o.Width < 1 {
		return nil, fmt.Errorf("resize: width %d: must be positive", o.Width)
	}
	if o.MaxBytes > 0 {
		r = &capReader{r: r, left: o.MaxBytes}
	}
	t0 := time.Now()
	br := bufio.NewReaderSize(r, 64<<10)
	info, isPNG, err := peekPNGHeader(br)
	if err != nil {
		return nil, err
	}
	if isPNG {
		if err := checkPixels(info.width, info.height, o.MaxPixels); err != nil {
			return nil, err
		}
	}
	var img image.Image
	var shrunk *image.NRGBA
	var kx, ky int
	format := "png"
	if isPNG && info.streamable() {
		shrunk, kx, ky, err = decodeShrunk(br, info, o.Width)
		img = shrunk
	} else {
		var src []byte
		if src, err = io.ReadAll(br); err == nil {
			img, format, err = decode(src, o.MaxPixels)
		}
	}
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	sw, sh := img.Bounds().Dx(), img.Bounds().Dy()
	if isPNG {
		sw, sh = info.width, info.height
	}
	tw, th := thumbSize(sw, sh, o.Width)
	var thumb image.Image
	if shrunk != nil {
		// Our Lanczos step (in source coordinates, so it also works on a
		// shrunk image); BenchmarkResample400 has it faster than imaging's.
		thumb = resample(shrunk, sw, sh, kx, ky, tw, th)
	} else {
		thumb = resizeTo(img, tw, th)
	}
	t2 := time.Now()
	data, ctype, err := encode(thumb, format, o.JPEGQuality)
	if err != nil {
		return nil, err
	}
	t3 := time.Now()
	return &Result{
		Data: data, ContentType: ctype,
		Width: tw, Height: th,
		SrcWidth: sw, SrcHeight: sh,
		Decode: t1.Sub(t0), Resize: t2.Sub(t1), Encode: t3.Sub(t2),
	}, nil
}

// thumbSize is the thumbnail's size for a source: width (never more than
// the source's), height keeping the aspect ratio, rounded, at least 1.
func thumbSize(sw, sh, width int) (int, int) {
	if width >= sw {
		return sw, sh
	}
	h := int(float64(sh)*float64(width)/float64(sw) + 0.5)
	return width, max(h, 1)
}

// decodeShrunk decodes a streamable PNG, shrinking it on load when it is
// much larger than the thumbnail.
// It returns the image and the cell size, in source pixels, of its pixels.
func decodeShrunk(br *bufio.Reader, info pngInfo, width int) (*image.NRGBA, int, int, error) {
	tw, th := thumbSize(info.width, info.height, width)
	kx := max(info.width/max(shrinkFactor*tw, minCells), 1)
	ky := max(info.height/max(shrinkFactor*th, minCells), 1)
	pipeline := int64(info.width)*int64(info.height) >= pipelinePixels
	if pipeline {
		// Keep the 33 header bytes the decoder expects, then read ahead.
		hdr, _ := br.Peek(8 + 8 + 13 + 4)
		hdr = bytes.Clone(hdr)
		br.Discard(len(hdr))
		r, stop := prefetch(br)
		defer stop()
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(hdr), r), 64<<10)
	}
	if kx == 1 && ky == 1 {
		s := newFullSink(info.width, info.height)
		if err := decodePNGStream(br, info, s, pipeline); err != nil {
			return nil, 0, 0, err
		}
		return s.img, 1, 1, nil
	}
	s := newBoxSink(info.width, info.height, kx, ky)
	if err := decodePNGStream(br, info, s, pipeline); err != nil {
		return nil, 0, 0, err
	}
	return s.out, kx, ky, nil
}

// resizeTo scales img to exactly tw×th with imaging's Lanczos filter.
func resizeTo(img image.Image, tw, th int) image.Image {
	b := img.Bounds()
	if b.Dx() == tw && b.Dy() == th {
		return img
	}
	return imaging.Resize(img, tw, th, imaging.Lanczos)
}

// maxSide bounds either side of a source, whatever its pixel count, so a
// single row (which the decoder must hold) stays small: an image
// 50,000,000 pixels wide and one high would need 400 MB a row.
const maxSide = 1 << 16

func checkPixels(w, h int, maxPixels int64) error {
	if px := int64(w) * int64(h); maxPixels > 0 && px > maxPixels {
		return fmt.Errorf("%w: %dx%d is %d pixels, more than the limit of %d",
			ErrTooLarge, w, h, px, maxPixels)
	}
	if w > maxSide || h > maxSide {
		return fmt.Errorf("%w: %dx%d: a side is longer than %d pixels", ErrTooLarge, w, h, maxSide)
	}
	return nil
}

// decodeConfig reads the source's format and size from its header only.
func decodeConfig(src []byte) (image.Config, string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return cfg, "", fmt.Errorf("%w: not a PNG, JPEG or GIF image", ErrUnsupported)
		}
		return cfg, format, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return cfg, format, nil
}

// decode checks the source's header against maxPixels (zero: no bound),
// then decodes it whole with the standard library. JPEG EXIF orientation
// is applied.
func decode(src []byte, maxPixels int64) (image.Image, string, error) {
	cfg, format, err := decodeConfig(src)
	if err != nil {
		return nil, "", err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, "", fmt.Errorf("%w: %dx%d image", ErrCorrupt, cfg.Width, cfg.Height)
	}
	if err := checkPixels(cfg.Width, cfg.Height, maxPixels); err != nil {
		return nil, "", err
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

// resizeWidth scales img to width pixels wide, keeping the aspect ratio
// with the height rounded to the nearest pixel, with a Lanczos filter. A
// width larger than the image's keeps the image's own width.
func resizeWidth(img image.Image, width int) image.Image {
	b := img.Bounds()
	tw, th := thumbSize(b.Dx(), b.Dy(), width)
	if tw == b.Dx() {
		return imaging.Clone(img)
	}
	return imaging.Resize(img, tw, th, imaging.Lanczos)
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

// encode writes img as PNG, or as JPEG when the source was a JPEG.
func encode(img image.Image, srcFormat string, jpegQuality int) ([]byte, string, error) {
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
