// Package resize turns a source image into a thumbnail: it checks the
// image's header against limits, decodes it as its bytes arrive, resizes
// with a Lanczos filter keeping the aspect ratio as the rows come, and
// encodes the result.
//
// What a thumbnail costs is bounded by what it outputs, not by its source:
// the decoders hand rows on as they decode them, the resampler keeps a few
// output-wide rows, and the only image ever held whole is the thumbnail.
//
// It knows pixels only; where the bytes come from and go to is the
// caller's business.
package resize

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"time"
)

// Errors Thumbnail reports, wrapped with detail; test with errors.Is.
var (
	// ErrUnsupported means the bytes are not an image in a format we read.
	ErrUnsupported = errors.New("resize: unsupported image format")
	// ErrCorrupt means the header was readable but the image data is not.
	ErrCorrupt = errors.New("resize: corrupt image")
	// ErrTooLarge means the image, or the thumbnail asked of it, has more
	// pixels than allowed.
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
	// MaxOutputPixels bounds width×height of the thumbnail, upright,
	// checked from the source's header before any pixel is decoded. Zero
	// means no bound.
	MaxOutputPixels int64
	// MaxBytes bounds the bytes read from the source. Zero means no bound.
	MaxBytes int64
	// SourceSize is the source's size in bytes when it is known (a store
	// says it before the body is read), zero otherwise: decoders that keep
	// the source's bytes size their buffer once instead of growing it.
	SourceSize int64
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
	// Phase durations. Decode includes reading the source, which streams,
	// and the resampling, which runs as rows arrive; Resize is what is
	// left of it when the last row is in.
	Decode, Resize, Encode time.Duration
}

// pipelinePixels is the size from which a PNG is inflated on one core
// while another unfilters and shrinks it. Smaller images are not worth
// the goroutines.
const pipelinePixels = 1 << 20

// MaxSide bounds either side of a source, whatever its pixel count, so a
// single row (which a decoder must hold) stays small: an image 50,000,000
// pixels wide and one high would need 400 MB a row.
const maxSide = 1 << 16

// plan is what the header says, and the thumbnail asked of it.
type plan struct {
	sw, sh      int // the source, as stored
	orientation int // EXIF, 1 to 8
	tw, th      int // the thumbnail as stored: swapped when orientation turns it
}

// upright returns a stored size as it is displayed.
func upright(w, h, orientation int) (int, int) {
	if orientation >= 5 {
		return h, w
	}
	return w, h
}

// newPlan checks a source's header against the options and sizes its
// thumbnail.
func newPlan(sw, sh, orientation int, o Options) (plan, error) {
	p := plan{sw: sw, sh: sh, orientation: orientation}
	if sw <= 0 || sh <= 0 {
		return p, fmt.Errorf("%w: %dx%d image", ErrCorrupt, sw, sh)
	}
	if err := checkPixels(sw, sh, o.MaxPixels); err != nil {
		return p, err
	}
	uw, uh := upright(sw, sh, orientation)
	tw, th := thumbSize(uw, uh, o.Width)
	if px := int64(tw) * int64(th); o.MaxOutputPixels > 0 && px > o.MaxOutputPixels {
		return p, fmt.Errorf("%w: a thumbnail %d wide of this %dx%d image would be %dx%d, %d pixels, more than the limit of %d",
			ErrTooLarge, o.Width, uw, uh, tw, th, px, o.MaxOutputPixels)
	}
	p.tw, p.th = upright(tw, th, orientation)
	return p, nil
}

// target returns where a decoder's rows go to become the plan's
// thumbnail: top to bottom through the pipeline, or, for the passes of an
// interlaced image, which come out of order, into a reducer that keeps
// every output row open.
func (p plan) target(interlaced bool) (pngOut, *reducer) {
	if interlaced {
		red := newReducer(p.sw, p.sh, 1, 1, p.tw, p.th, false)
		return pngOut{red: red}, red
	}
	sink, red := newPipeline(p.sw, p.sh, p.tw, p.th)
	return pngOut{sink: sink}, red
}

// Thumbnail makes a thumbnail of the source read from r, a PNG, JPEG or
// GIF (first frame). PNG and GIF sources give PNG thumbnails, JPEG sources
// JPEG thumbnails. JPEG EXIF orientation is applied, so the thumbnail comes
// out upright.
//
// It stops, freeing what it holds, as soon as ctx ends: every stage checks
// it between batches of rows, and the source is read through a reader that
// checks it.
func Thumbnail(ctx context.Context, r io.Reader, o Options) (*Result, error) {
	if o.Width < 1 {
		return nil, fmt.Errorf("resize: width %d: must be positive", o.Width)
	}
	if o.MaxBytes > 0 {
		r = &capReader{r: r, left: o.MaxBytes}
	}
	t0 := time.Now()
	var sized *sizedReader
	if o.SourceSize > 0 {
		sized = &sizedReader{r: r, left: o.SourceSize}
		r = sized
	}
	br := bufio.NewReaderSize(&ctxReader{ctx: ctx, r: r}, 64<<10)
	head, err := br.Peek(8)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var (
		img    *image.NRGBA
		p      plan
		format = "png"
	)
	switch {
	case bytes.HasPrefix(head, []byte(pngSignature)):
		img, p, err = thumbnailPNG(ctx, br, o)
	case bytes.HasPrefix(head, []byte(gifSignature87)), bytes.HasPrefix(head, []byte(gifSignature89)):
		img, p, err = thumbnailGIF(ctx, br, o)
	case bytes.HasPrefix(head, []byte{0xff, 0xd8}):
		format = "jpeg"
		var src io.Reader = br
		if sized != nil {
			src = &bufferedSize{br, sized}
		}
		img, p, err = thumbnailJPEG(ctx, src, o)
	default:
		return nil, fmt.Errorf("%w: not a PNG, JPEG or GIF image", ErrUnsupported)
	}
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	img = orient(img, p.orientation)
	t2 := time.Now()
	data, ctype, err := encode(ctx, img, format, o.JPEGQuality)
	if err != nil {
		return nil, err
	}
	t3 := time.Now()
	uw, uh := upright(p.sw, p.sh, p.orientation)
	return &Result{
		Data: data, ContentType: ctype,
		Width: img.Rect.Dx(), Height: img.Rect.Dy(),
		SrcWidth: uw, SrcHeight: uh,
		Decode: t1.Sub(t0), Resize: t2.Sub(t1), Encode: t3.Sub(t2),
	}, nil
}

// thumbnailPNG decodes a PNG as it arrives, shrinking it on load.
func thumbnailPNG(ctx context.Context, br *bufio.Reader, o Options) (*image.NRGBA, plan, error) {
	info, _, err := peekPNGHeader(br)
	if err != nil {
		return nil, plan{}, err
	}
	if err := info.check(); err != nil {
		return nil, plan{}, err
	}
	p, err := newPlan(info.width, info.height, 1, o)
	if err != nil {
		return nil, p, err
	}
	out, red := p.target(info.interlaced)
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
	if err := decodePNGStream(ctx, br, info, out, pipeline); err != nil {
		return nil, p, err
	}
	return red.finish(), p, nil
}

// thumbnailGIF decodes a GIF's first frame as its LZW data arrives.
func thumbnailGIF(ctx context.Context, br *bufio.Reader, o Options) (*image.NRGBA, plan, error) {
	f, err := readGIFHeader(br)
	if err != nil {
		return nil, plan{}, err
	}
	// The logical screen is what image.DecodeConfig says: it is bounded
	// too, though only the first frame is decoded.
	if err := checkPixels(f.screenW, f.screenH, o.MaxPixels); err != nil {
		return nil, plan{}, err
	}
	p, err := newPlan(f.w, f.h, 1, o)
	if err != nil {
		return nil, p, err
	}
	out, red := p.target(f.interlaced)
	if err := decodeGIF(ctx, br, f, out); err != nil {
		return nil, p, err
	}
	return red.finish(), p, nil
}

// jpegBudget bounds what a JPEG may keep in memory: the coefficients of
// a progressive image (only those the DCT reduction uses), and the scan
// bytes the two-core decoder holds. A file that would need more for the
// thumbnail asked is refused (413).
const jpegBudget = 48 << 20

// thumbnailJPEG decodes a JPEG as its bytes arrive, reduced in the DCT
// domain to the smallest size still at least twice the thumbnail and
// minCells (1/8, 1/4, 1/2 or whole), shrinks it further on load when that is still much
// larger, and resamples its rows in the stored orientation; the caller
// turns the thumbnail upright.
func thumbnailJPEG(ctx context.Context, r io.Reader, o Options) (*image.NRGBA, plan, error) {
	d, err := newJPEGDecoder(r)
	if err != nil {
		return nil, plan{}, err
	}
	info := d.info()
	p, err := newPlan(info.width, info.height, info.orientation, o)
	if err != nil {
		return nil, p, err
	}
	// At least minCells per axis, as the shrink on load leaves: a tiny
	// thumbnail of a small image is made from its full detail.
	scale, ok := d.scale(max(p.tw, minCells/2), max(p.th, minCells/2), jpegBudget)
	if !ok {
		return nil, p, fmt.Errorf("%w: a progressive JPEG of %dx%d would keep more than %d MiB of coefficients for a %dx%d thumbnail",
			ErrTooLarge, p.sw, p.sh, jpegBudget>>20, p.tw, p.th)
	}
	rw, rh := (p.sw+scale-1)/scale, (p.sh+scale-1)/scale
	kx, ky := shrinkOnLoad(rw, rh, p.tw, p.th)
	red := newReducer(p.sw, p.sh, scale*kx, scale*ky, p.tw, p.th, true)
	var sink rowSink = red
	if kx > 1 || ky > 1 {
		sink = newBoxSink(rw, rh, kx, ky, red)
	}
	if err := d.decode(ctx, scale, jpegBudget, &jpegRows{sink: sink, grey: info.components == 1}); err != nil {
		return nil, p, err
	}
	return red.finish(), p, nil
}

// jpegRows passes the JPEG decoder's bands of rows to a sink.
type jpegRows struct {
	sink rowSink
	grey bool
}

func (j *jpegRows) rows(y, n int, p []byte, stride int) {
	for i := range n {
		row := p[i*stride:]
		if j.grey {
			j.sink.rowGray(y+i, row)
		} else {
			j.sink.rowRGB(y+i, row)
		}
	}
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

// ctxReader fails with the context's error once it has ended, so a decoder
// reading through it stops at its next read.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
