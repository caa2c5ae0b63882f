package resize

import (
	"bufio"
	"compress/lzw"
	"context"
	"errors"
	"fmt"
	"io"
)

// This file reads the first frame of a GIF as its LZW data arrives, row by
// row, into a rowSink (or, for an interlaced frame, an out-of-order
// reducer), so no frame is ever held whole. It accepts and refuses what
// image/gif's Decode does, and makes the same pixels.

const gifSignature87, gifSignature89 = "GIF87a", "GIF89a"

// gifFrame is what the blocks before the first frame's pixels say.
type gifFrame struct {
	screenW, screenH int // the logical screen
	w, h             int // the first frame
	interlaced       bool
	palette          [][4]byte // NRGBA; transparent entries are all zero
	litWidth         int
}

func gifCorrupt(format string, args ...any) error {
	return fmt.Errorf("%w: gif: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// gifReadFull reads exactly len(b) bytes; a GIF that ends early is corrupt,
// a source that fails is passed on.
func gifReadFull(br *bufio.Reader, b []byte) error {
	if _, err := io.ReadFull(br, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return gifCorrupt("unexpected EOF")
		}
		return err
	}
	return nil
}

// readGIFHeader reads the blocks of a GIF up to the first frame's LZW data.
func readGIFHeader(br *bufio.Reader) (gifFrame, error) {
	var f gifFrame
	var tmp [256 * 3]byte
	if err := gifReadFull(br, tmp[:13]); err != nil {
		return f, err
	}
	if v := string(tmp[:6]); v != gifSignature87 && v != gifSignature89 {
		return f, fmt.Errorf("%w: gif: can't recognize format %q", ErrUnsupported, v)
	}
	f.screenW = int(tmp[6]) | int(tmp[7])<<8
	f.screenH = int(tmp[8]) | int(tmp[9])<<8
	var global [][4]byte
	if fields := tmp[10]; fields&0x80 != 0 {
		var err error
		if global, err = gifColorTable(br, fields); err != nil {
			return f, err
		}
	}
	transparent := -1
	for {
		c, err := br.ReadByte()
		if err != nil {
			return f, gifSource(err)
		}
		switch c {
		case 0x21: // extension
			label, err := br.ReadByte()
			if err != nil {
				return f, gifSource(err)
			}
			if label == 0xf9 { // graphic control: the transparent index
				if err := gifReadFull(br, tmp[:6]); err != nil {
					return f, err
				}
				if tmp[0] != 4 || tmp[5] != 0 {
					return f, gifCorrupt("invalid graphic control extension")
				}
				transparent = -1
				if tmp[1]&1 != 0 {
					transparent = int(tmp[4])
				}
				continue
			}
			if err := skipGIFExtension(br, label); err != nil {
				return f, err
			}
		case 0x2c: // image descriptor
			if err := gifReadFull(br, tmp[:9]); err != nil {
				return f, err
			}
			left, top := int(tmp[0])|int(tmp[1])<<8, int(tmp[2])|int(tmp[3])<<8
			f.w, f.h = int(tmp[4])|int(tmp[5])<<8, int(tmp[6])|int(tmp[7])<<8
			fields := tmp[8]
			if left+f.w > f.screenW || top+f.h > f.screenH {
				return f, gifCorrupt("frame bounds larger than image bounds")
			}
			f.interlaced = fields&0x40 != 0
			f.palette = global
			if fields&0x80 != 0 {
				var err error
				if f.palette, err = gifColorTable(br, fields); err != nil {
					return f, err
				}
			} else if global == nil {
				return f, gifCorrupt("no color table")
			}
			if transparent >= 0 {
				p := make([][4]byte, max(len(f.palette), transparent+1))
				copy(p, f.palette)
				p[transparent] = [4]byte{}
				f.palette = p
			}
			lw, err := br.ReadByte()
			if err != nil {
				return f, gifSource(err)
			}
			if lw < 2 || lw > 8 {
				return f, gifCorrupt("pixel size in decode out of range: %d", lw)
			}
			f.litWidth = int(lw)
			return f, nil
		case 0x3b: // trailer
			return f, gifCorrupt("missing image data")
		default:
			return f, gifCorrupt("unknown block type: 0x%.2x", c)
		}
	}
}

func gifSource(err error) error {
	if errors.Is(err, io.EOF) {
		return gifCorrupt("unexpected EOF")
	}
	return err
}

func gifColorTable(br *bufio.Reader, fields byte) ([][4]byte, error) {
	n := 1 << (1 + uint(fields&7))
	var tmp [256 * 3]byte
	if err := gifReadFull(br, tmp[:3*n]); err != nil {
		return nil, err
	}
	p := make([][4]byte, n)
	for i := range p {
		p[i] = [4]byte{tmp[3*i], tmp[3*i+1], tmp[3*i+2], 0xff}
	}
	return p, nil
}

// skipGIFExtension skips an extension's blocks; unknown kinds are refused,
// as image/gif does.
func skipGIFExtension(br *bufio.Reader, label byte) error {
	size := 0
	switch label {
	case 0x01: // plain text
		size = 13
	case 0xfe: // comment
	case 0xff: // application
		b, err := br.ReadByte()
		if err != nil {
			return gifSource(err)
		}
		size = int(b)
	default:
		return gifCorrupt("unknown extension 0x%.2x", label)
	}
	if _, err := br.Discard(size); err != nil {
		return gifSource(err)
	}
	for {
		n, err := br.ReadByte()
		if err != nil {
			return gifSource(err)
		}
		if n == 0 {
			return nil
		}
		if _, err := br.Discard(int(n)); err != nil {
			return gifSource(err)
		}
	}
}

// gifBlocks reads the data sub-blocks of the LZW stream as one stream of
// bytes, for compress/lzw.
type gifBlocks struct {
	br   *bufio.Reader
	left int // bytes left in the current sub-block
	last int // length of the current sub-block
	err  error
}

func (b *gifBlocks) fill() {
	if b.err != nil {
		return
	}
	n, err := b.br.ReadByte()
	switch {
	case err != nil:
		b.err = err
	case n == 0:
		b.err = io.EOF
	default:
		b.left, b.last = int(n), int(n)
	}
}

func (b *gifBlocks) ReadByte() (byte, error) {
	if b.left == 0 {
		b.fill()
		if b.err != nil {
			return 0, b.err
		}
	}
	c, err := b.br.ReadByte()
	if err != nil {
		b.err = err
		return 0, err
	}
	b.left--
	return c, nil
}

func (b *gifBlocks) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c, err := b.ReadByte()
	if err != nil {
		return 0, err
	}
	p[0] = c
	return 1, nil
}

// close checks what follows the LZW data as image/gif does: at most one
// more short sub-block, then the terminator.
func (b *gifBlocks) close() error {
	if b.err == io.EOF {
		return nil
	}
	if b.err != nil {
		return b.err
	}
	if b.left > 0 {
		if _, err := b.br.Discard(b.left); err != nil {
			return err
		}
		b.left = 0
	} else {
		b.fill()
		if b.err == io.EOF {
			return nil
		}
		if b.err != nil {
			return b.err
		}
		if b.last > 1 {
			return gifCorrupt("too much image data")
		}
		if _, err := b.br.Discard(b.left); err != nil {
			return err
		}
		b.left = 0
	}
	b.fill()
	if b.err == io.EOF {
		return nil
	}
	if b.err != nil {
		return b.err
	}
	return gifCorrupt("too much image data")
}

// gifInterlace is the order of an interlaced GIF's rows: four passes.
var gifInterlace = [4][2]int{{0, 8}, {4, 8}, {2, 4}, {1, 2}}

// decodeGIF reads the frame's pixels into out: rows in order into
// out.sink, or, interlaced, into the out-of-order reducer out.red. It
// checks ctx between batches of rows.
func decodeGIF(ctx context.Context, br *bufio.Reader, f gifFrame, out pngOut) error {
	blocks := &gifBlocks{br: br}
	lz := lzw.NewReader(blocks, lzw.LSB, f.litWidth)
	defer lz.Close()
	idx := make([]byte, f.w)
	nrgba := make([]byte, 4*f.w)
	pass, y := 0, 0
	if f.interlaced {
		y = gifInterlace[0][0]
	}
	for n := range f.h {
		if n%batchRows == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if _, err := io.ReadFull(lz, idx); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				if blocks.err != nil && !errors.Is(blocks.err, io.EOF) {
					return gifSource(blocks.err)
				}
				return gifCorrupt("not enough image data")
			}
			if blocks.err != nil && !errors.Is(blocks.err, io.EOF) {
				return gifSource(blocks.err) // the source failed, not the image
			}
			return gifCorrupt("reading image data: %v", err)
		}
		for x, i := range idx {
			if int(i) >= len(f.palette) {
				return gifCorrupt("invalid pixel value")
			}
			p := f.palette[i]
			copy(nrgba[4*x:4*x+4], p[:])
		}
		if !f.interlaced {
			out.sink.row(y, nrgba)
			y++
			continue
		}
		out.red.passRow(y, nrgba, 0, 1)
		y += gifInterlace[pass][1]
		for pass < 3 && y >= f.h {
			pass++
			y = gifInterlace[pass][0]
		}
	}
	var one [1]byte
	if n, err := lz.Read(one[:]); n != 0 {
		return gifCorrupt("too much image data")
	} else if err != io.EOF && err != io.ErrUnexpectedEOF {
		if blocks.err != nil && !errors.Is(blocks.err, io.EOF) {
			return gifSource(blocks.err)
		}
		return gifCorrupt("reading image data: %v", err)
	}
	return blocks.close()
}
