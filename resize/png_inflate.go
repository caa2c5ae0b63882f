package resize

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"

	"github.com/klauspost/compress/flate"
)

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
