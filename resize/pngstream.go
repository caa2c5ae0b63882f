package resize

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/flate"
)

// This file decodes PNG row by row as the bytes arrive, without ever
// holding the whole image: rows are unfiltered, turned into 8-bit NRGBA
// (what imaging works on) and handed to a sink, which either keeps them
// (small images) or folds them into a box reduction (large ones). It reads
// non-interlaced PNGs of bit depth 8 or 16, every colour type; the others
// (interlaced, 1, 2 and 4 bits) go to image/png. Chunk rules follow
// image/png's, so both accept and refuse the same files.

// pngInfo is what IHDR says.
type pngInfo struct {
	width, height int
	depth         int
	colorType     int
	interlaced    bool
}

const pngSignature = "\x89PNG\r\n\x1a\n"

// Colour types.
const (
	ctGray      = 0
	ctTrueColor = 2
	ctPaletted  = 3
	ctGrayAlpha = 4
	ctRGBA      = 6
)

// peekPNGHeader reads the signature and IHDR without consuming them. ok
// is false when the stream is not a PNG.
func peekPNGHeader(br *bufio.Reader) (info pngInfo, ok bool, err error) {
	b, err := br.Peek(8 + 8 + 13 + 4)
	if err != nil && !errors.Is(err, io.EOF) {
		return info, false, err
	}
	if len(b) < 8 || string(b[:8]) != pngSignature {
		return info, false, nil
	}
	if len(b) < 33 || string(b[12:16]) != "IHDR" || binary.BigEndian.Uint32(b[8:12]) != 13 {
		return info, true, fmt.Errorf("%w: png: bad IHDR", ErrCorrupt)
	}
	if crc32.ChecksumIEEE(b[12:29]) != binary.BigEndian.Uint32(b[29:33]) {
		return info, true, fmt.Errorf("%w: png: invalid checksum", ErrCorrupt)
	}
	h := b[16:29]
	w, ht := binary.BigEndian.Uint32(h[0:4]), binary.BigEndian.Uint32(h[4:8])
	info = pngInfo{width: int(w), height: int(ht), depth: int(h[8]), colorType: int(h[9]), interlaced: h[12] == 1}
	if w == 0 || ht == 0 || w > 0x7fffffff || ht > 0x7fffffff {
		return info, true, fmt.Errorf("%w: png: non-positive dimension", ErrCorrupt)
	}
	if h[10] != 0 || h[11] != 0 || h[12] > 1 {
		return info, true, fmt.Errorf("%w: png: unsupported compression, filter or interlace method", ErrCorrupt)
	}
	return info, true, nil
}

// streamable reports whether the stream decoder reads this PNG.
func (p pngInfo) streamable() bool {
	if p.interlaced {
		return false
	}
	switch p.colorType {
	case ctGray, ctTrueColor, ctGrayAlpha, ctRGBA:
		return p.depth == 8 || p.depth == 16
	case ctPaletted:
		return p.depth == 8
	}
	return false
}

// bytesPerPixel of the raw, filtered data.
func (p pngInfo) bytesPerPixel() int {
	ch := map[int]int{ctGray: 1, ctTrueColor: 3, ctPaletted: 1, ctGrayAlpha: 2, ctRGBA: 4}[p.colorType]
	return ch * p.depth / 8
}

// rowSink receives the decoded rows, top to bottom, as 8-bit NRGBA.
type rowSink interface {
	row(y int, nrgba []byte)
}

// chunkReader walks a PNG's chunks after IHDR, checking each CRC, and
// reads the IDAT data as one stream.
type chunkReader struct {
	r         *bufio.Reader
	info      pngInfo
	remaining uint32 // of the current IDAT chunk
	crc       uint32
	inIDAT    bool
	seenIDAT  bool
	done      bool // past the last IDAT
	palette   [256][4]byte
	nPalette  int
	seenPLTE  bool
	seenTRNS  bool
	trans     [6]byte // tRNS of gray or truecolour images
	useTrans  bool
	tmp       [4096]byte
}

var errCorruptPNG = func(msg string) error { return fmt.Errorf("%w: png: %s", ErrCorrupt, msg) }

func (c *chunkReader) readFull(b []byte) error {
	if _, err := io.ReadFull(c.r, b); err != nil {
		return sourceErr(err)
	}
	return nil
}

// sourceErr tells a file that ends too soon (corrupt) from a source that
// failed (storage, deadline, size limit), which is passed on as it is.
func sourceErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errCorruptPNG("unexpected EOF")
	}
	return err
}

func (c *chunkReader) checkCRC() error {
	var b [4]byte
	if err := c.readFull(b[:]); err != nil {
		return err
	}
	if binary.BigEndian.Uint32(b[:]) != c.crc {
		return errCorruptPNG("invalid checksum")
	}
	return nil
}

// next reads chunk headers until IDAT data or the end of the image data.
func (c *chunkReader) next() error {
	for {
		var hdr [8]byte
		if err := c.readFull(hdr[:]); err != nil {
			return err
		}
		length := binary.BigEndian.Uint32(hdr[:4])
		typ := string(hdr[4:8])
		c.crc = crc32.ChecksumIEEE(hdr[4:8])
		if length > 0x7fffffff {
			return errCorruptPNG(fmt.Sprintf("Bad chunk length: %d", length))
		}
		switch typ {
		case "IHDR":
			return errCorruptPNG("chunk out of order")
		case "PLTE":
			if c.seenPLTE || c.seenTRNS || c.seenIDAT {
				return errCorruptPNG("chunk out of order")
			}
			c.seenPLTE = true
			if err := c.plte(length); err != nil {
				return err
			}
			continue
		case "tRNS":
			if c.seenTRNS || c.seenIDAT || (c.info.colorType == ctPaletted && !c.seenPLTE) ||
				(c.info.colorType != ctPaletted && c.info.colorType != ctTrueColor && c.seenPLTE) {
				return errCorruptPNG("chunk out of order")
			}
			c.seenTRNS = true
			if err := c.trns(length); err != nil {
				return err
			}
			continue
		case "IDAT":
			if c.info.colorType == ctPaletted && !c.seenPLTE {
				return errCorruptPNG("chunk out of order")
			}
			if c.done {
				// Trailing IDAT chunks after the image data are ignored, as image/png does.
				if err := c.skip(length); err != nil {
					return err
				}
				continue
			}
			c.seenIDAT, c.inIDAT, c.remaining = true, true, length
			return nil
		case "IEND":
			if !c.seenIDAT {
				return errCorruptPNG("chunk out of order")
			}
			if length != 0 {
				return errCorruptPNG("bad IEND length")
			}
			if err := c.checkCRC(); err != nil {
				return err
			}
			return io.EOF
		}
		if c.seenIDAT && !c.done {
			// Another chunk after IDAT: the image data has ended.
			c.done = true
		}
		if err := c.skip(length); err != nil {
			return err
		}
	}
}

func (c *chunkReader) skip(length uint32) error {
	for length > 0 {
		n := min(len(c.tmp), int(length))
		if err := c.readFull(c.tmp[:n]); err != nil {
			return err
		}
		c.crc = crc32.Update(c.crc, crc32.IEEETable, c.tmp[:n])
		length -= uint32(n)
	}
	return c.checkCRC()
}

func (c *chunkReader) plte(length uint32) error {
	np := int(length / 3)
	switch c.info.colorType {
	case ctPaletted:
		if length%3 != 0 || np <= 0 || np > 256 || np > 1<<c.info.depth {
			return errCorruptPNG("bad PLTE length")
		}
	case ctTrueColor, ctRGBA:
		if length%3 != 0 || np <= 0 || np > 256 || np > 1<<c.info.depth {
			return errCorruptPNG("bad PLTE length")
		}
		return c.skip(length) // optional and ignorable for truecolour
	default:
		return errCorruptPNG("PLTE, color type mismatch")
	}
	b := c.tmp[:length]
	if err := c.readFull(b); err != nil {
		return err
	}
	c.crc = crc32.Update(c.crc, crc32.IEEETable, b)
	// Entries past the palette are opaque black, as in image/png.
	for i := range c.palette {
		c.palette[i] = [4]byte{0, 0, 0, 0xff}
	}
	for i := range np {
		c.palette[i] = [4]byte{b[3*i], b[3*i+1], b[3*i+2], 0xff}
	}
	c.nPalette = np
	return c.checkCRC()
}

func (c *chunkReader) trns(length uint32) error {
	switch c.info.colorType {
	case ctGray:
		if length != 2 {
			return errCorruptPNG("bad tRNS length")
		}
	case ctTrueColor:
		if length != 6 {
			return errCorruptPNG("bad tRNS length")
		}
	case ctPaletted:
		if length > 256 {
			return errCorruptPNG("bad tRNS length")
		}
	default:
		return errCorruptPNG("tRNS, color type mismatch")
	}
	b := c.tmp[:length]
	if err := c.readFull(b); err != nil {
		return err
	}
	c.crc = crc32.Update(c.crc, crc32.IEEETable, b)
	if c.info.colorType == ctPaletted {
		for i, a := range b {
			c.palette[i][3] = a
		}
		c.nPalette = max(c.nPalette, len(b))
	} else {
		copy(c.trans[:], b)
		c.useTrans = true
	}
	return c.checkCRC()
}

// Read reads IDAT data across chunks.
func (c *chunkReader) Read(p []byte) (int, error) {
	for c.remaining == 0 {
		if !c.inIDAT {
			return 0, io.EOF
		}
		if err := c.checkCRC(); err != nil {
			return 0, err
		}
		c.inIDAT = false
		var hdr [8]byte
		b, err := c.r.Peek(8)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if err != nil || string(b[4:8]) != "IDAT" {
			c.done = true
			return 0, io.EOF
		}
		copy(hdr[:], b)
		c.r.Discard(8)
		c.remaining = binary.BigEndian.Uint32(hdr[:4])
		if c.remaining > 0x7fffffff {
			return 0, errCorruptPNG("Bad chunk length")
		}
		c.crc = crc32.ChecksumIEEE(hdr[4:8])
		c.inIDAT = true
	}
	if uint32(len(p)) > c.remaining {
		p = p[:c.remaining]
	}
	n, err := c.r.Read(p)
	c.crc = crc32.Update(c.crc, crc32.IEEETable, p[:n])
	c.remaining -= uint32(n)
	if err == io.EOF {
		err = errCorruptPNG("unexpected EOF in image data")
	}
	return n, err
}

// rowBatch is a run of raw (filtered) rows passed from the inflater to the
// unfilterer.
type rowBatch struct {
	buf  []byte
	rows int
	err  error
}

// batchRows is how many rows one hand-over carries.
const batchRows = 16

// decodePNGStream decodes the PNG after its signature (br positioned at
// IHDR's start) into sink. With pipeline, inflating runs on its own
// goroutine while this one unfilters and converts.
func decodePNGStream(br *bufio.Reader, info pngInfo, sink rowSink, pipeline bool) error {
	if _, err := br.Discard(8 + 8 + 13 + 4); err != nil {
		return sourceErr(err)
	}
	c := &chunkReader{r: br, info: info}
	if err := c.next(); err != nil {
		if errors.Is(err, io.EOF) {
			return errCorruptPNG("no image data")
		}
		return err
	}
	// The zlib stream is inflated raw, and its Adler-32 checksum computed
	// by the unfilterer, off the inflater's critical path.
	zbr := bufio.NewReaderSize(c, 32<<10)
	var zhdr [2]byte
	if _, err := io.ReadFull(zbr, zhdr[:]); err != nil {
		return inflateErr(err)
	}
	if zhdr[0]&0x0f != 8 || zhdr[0]>>4 > 7 || (uint(zhdr[0])<<8|uint(zhdr[1]))%31 != 0 || zhdr[1]&0x20 != 0 {
		return errCorruptPNG("zlib: invalid header")
	}
	// Not closed: on an early return the inflating goroutine may still be
	// reading it, and a flate reader holds nothing but memory.
	zr := flate.NewReader(zbr)
	sum := adler32.New()
	bpp := info.bytesPerPixel()
	stride := 1 + info.width*bpp
	conv := newConverter(c, info)
	emit := func(y int, raw []byte) { sink.row(y, conv.convert(raw)) }
	if box, ok := sink.(*boxSink); ok && info.depth == 8 && info.colorType == ctTrueColor && !c.useTrans {
		emit = box.rowRGB // opaque RGB: no conversion needed
	}

	if !pipeline {
		cur := make([]byte, stride)
		prev := make([]byte, stride)
		for y := range info.height {
			if _, err := io.ReadFull(zr, cur); err != nil {
				return inflateErr(err)
			}
			sum.Write(cur)
			if err := unfilter(cur, prev, bpp); err != nil {
				return err
			}
			emit(y, cur[1:])
			cur, prev = prev, cur
		}
	} else {
		// Batches of about 1 MiB (one row at least), never more rows than
		// the image has.
		rowsPer := min(max(1, (1<<20)/stride), batchRows, info.height)
		free := make(chan []byte, 3)
		full := make(chan rowBatch, 2)
		for range 3 {
			free <- make([]byte, stride*rowsPer)
		}
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			defer close(full)
			for y := 0; y < info.height; y += rowsPer {
				var buf []byte
				select {
				case buf = <-free:
				case <-stop:
					return
				}
				n := min(rowsPer, info.height-y)
				if _, err := io.ReadFull(zr, buf[:n*stride]); err != nil {
					select {
					case full <- rowBatch{err: inflateErr(err)}:
					case <-stop:
					}
					return
				}
				select {
				case full <- rowBatch{buf: buf, rows: n}:
				case <-stop:
					return
				}
			}
		}()
		last := make([]byte, stride) // the row before a batch
		y := 0
		for b := range full {
			if b.err != nil {
				return b.err
			}
			sum.Write(b.buf[:b.rows*stride])
			prev := last
			for i := range b.rows {
				cur := b.buf[i*stride : (i+1)*stride]
				if err := unfilter(cur, prev, bpp); err != nil {
					return err
				}
				emit(y, cur[1:])
				prev = cur
				y++
			}
			copy(last, prev)
			free <- b.buf
		}
		if y != info.height {
			return errCorruptPNG("not enough pixel data")
		}
	}
	// The deflate stream must end here, followed by the checksum.
	var one [1]byte
	if n, err := zr.Read(one[:]); n != 0 {
		return errCorruptPNG("too much pixel data")
	} else if err != io.EOF {
		return inflateErr(err)
	}
	var trailer [4]byte
	if _, err := io.ReadFull(zbr, trailer[:]); err != nil {
		return inflateErr(err)
	}
	if binary.BigEndian.Uint32(trailer[:]) != sum.Sum32() {
		return errCorruptPNG("zlib: invalid checksum")
	}
	// The rest of the file, up to IEND, must be sound too.
	c.done = true
	if c.inIDAT {
		c.inIDAT = false
		if err := c.skip(c.remaining); err != nil {
			return err
		}
	}
	if err := c.next(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errCorruptPNG("chunk out of order")
		}
		return err
	}
	return nil
}

// inflateErr classifies an error met while inflating: a broken stream is
// a corrupt image; a failing source is passed on as it is.
func inflateErr(err error) error {
	var ce flate.CorruptInputError
	switch {
	case errors.Is(err, ErrCorrupt):
		return err
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errCorruptPNG("not enough pixel data")
	case errors.As(err, &ce):
		return fmt.Errorf("%w: png: %v", ErrCorrupt, err)
	}
	return err
}

// unfilter reverses the row's filter in place; cur[0] is the filter type,
// prev the previous row, already unfiltered (zeros for the first row).
func unfilter(cur, prev []byte, bpp int) error {
	f := cur[0]
	cdat, pdat := cur[1:], prev[1:]
	switch f {
	case 0:
	case 1: // Sub
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += cdat[i-bpp]
		}
	case 2: // Up
		pdat = pdat[:len(cdat)]
		for i, p := range pdat {
			cdat[i] += p
		}
	case 3: // Average
		for i := 0; i < bpp; i++ {
			cdat[i] += pdat[i] / 2
		}
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += uint8((int(cdat[i-bpp]) + int(pdat[i])) / 2)
		}
	case 4: // Paeth
		paeth(cdat, pdat, bpp)
	default:
		return errCorruptPNG("bad filter type")
	}
	return nil
}

// paeth reverses the Paeth filter one channel at a time, keeping the left
// and upper-left bytes in registers.
func paeth(cdat, pdat []byte, bpp int) {
	pdat = pdat[:len(cdat)]
	for i := 0; i < bpp; i++ {
		var a, c int
		for j := i; j < len(cdat); j += bpp {
			b := int(pdat[j])
			pa := b - c
			pb := a - c
			pc := abs(pa + pb)
			pa = abs(pa)
			pb = abs(pb)
			if pa <= pb && pa <= pc {
				// a stays the prediction
			} else if pb <= pc {
				a = b
			} else {
				a = c
			}
			a = (a + int(cdat[j])) & 0xff
			cdat[j] = uint8(a)
			c = b
		}
	}
}

func abs(x int) int {
	m := x >> (64 - 1)
	return (x ^ m) - m
}

// converter turns unfiltered raw rows into 8-bit NRGBA, as imaging sees
// what image/png decodes: 16-bit samples keep their high byte, tRNS makes
// a matching colour transparent, palette indexes look up the palette.
type converter struct {
	info  pngInfo
	c     *chunkReader
	out   []byte
	trans [3]uint16
}

func newConverter(c *chunkReader, info pngInfo) *converter {
	cv := &converter{info: info, c: c, out: make([]byte, 4*info.width)}
	if c.useTrans {
		if info.colorType == ctGray {
			cv.trans[0] = uint16(c.trans[0])<<8 | uint16(c.trans[1])
		} else {
			for i := range 3 {
				cv.trans[i] = uint16(c.trans[2*i])<<8 | uint16(c.trans[2*i+1])
			}
		}
	}
	return cv
}

func (cv *converter) convert(raw []byte) []byte {
	out := cv.out
	w := cv.info.width
	useTrans := cv.c.useTrans
	switch cv.info.depth<<8 | cv.info.colorType {
	case 8<<8 | ctRGBA:
		copy(out, raw)
	case 8<<8 | ctTrueColor:
		// As image/png: only the low byte of each 16-bit tRNS sample counts.
		tr, tg, tb := cv.c.trans[1], cv.c.trans[3], cv.c.trans[5]
		for x, i, j := 0, 0, 0; x < w; x, i, j = x+1, i+4, j+3 {
			r, g, b := raw[j], raw[j+1], raw[j+2]
			out[i], out[i+1], out[i+2], out[i+3] = r, g, b, 0xff
			if useTrans && r == tr && g == tg && b == tb {
				out[i+3] = 0
			}
		}
	case 8<<8 | ctGray:
		ty := cv.c.trans[1]
		for x := range w {
			v := raw[x]
			a := uint8(0xff)
			if useTrans && v == ty {
				a = 0
			}
			out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = v, v, v, a
		}
	case 8<<8 | ctGrayAlpha:
		for x := range w {
			v := raw[2*x]
			out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = v, v, v, raw[2*x+1]
		}
	case 8<<8 | ctPaletted:
		pal := &cv.c.palette
		for x := range w {
			p := pal[raw[x]]
			copy(out[4*x:4*x+4], p[:])
		}
	case 16<<8 | ctRGBA:
		for x := range w {
			out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = raw[8*x], raw[8*x+2], raw[8*x+4], raw[8*x+6]
		}
	case 16<<8 | ctTrueColor:
		for x := range w {
			j := 6 * x
			out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = raw[j], raw[j+2], raw[j+4], 0xff
			if useTrans &&
				uint16(raw[j])<<8|uint16(raw[j+1]) == cv.trans[0] &&
				uint16(raw[j+2])<<8|uint16(raw[j+3]) == cv.trans[1] &&
				uint16(raw[j+4])<<8|uint16(raw[j+5]) == cv.trans[2] {
				out[4*x+3] = 0
			}
		}
	case 16<<8 | ctGray:
		for x := range w {
			v := raw[2*x]
			a := uint8(0xff)
			if useTrans && uint16(raw[2*x])<<8|uint16(raw[2*x+1]) == cv.trans[0] {
				a = 0
			}
			out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = v, v, v, a
		}
	case 16<<8 | ctGrayAlpha:
		for x := range w {
			v := raw[4*x]
			out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = v, v, v, raw[4*x+2]
		}
	}
	return out
}
