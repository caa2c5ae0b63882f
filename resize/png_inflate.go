package resize

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"hash/adler32"
	"io"
)

// rowBatch is a run of raw (filtered) rows of one pass, passed from the
// inflater to the unfilterer.
type rowBatch struct {
	buf  []byte
	pass int // index in the passes
	j    int // the pass's row of the first
	rows int
	err  error
}

// batchRows is how many rows one hand-over carries.
const batchRows = 16

// pngOut is where decoded rows go: the rows of a plain PNG, in order, to
// a sink; the pass rows of an interlaced one to an out-of-order reducer.
type pngOut struct {
	sink rowSink
	red  *reducer
}

// decodePNGStream decodes the PNG after its signature (br positioned at
// IHDR's start) into out. With pipeline, inflating runs on its own
// goroutine while this one unfilters and converts. It checks ctx between
// batches of rows.
func decodePNGStream(ctx context.Context, br *bufio.Reader, info pngInfo, out pngOut, pipeline bool) error {
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
	// Our own inflater: it reads zbr's buffer in place, and stops on the
	// stream's last byte (BenchmarkInflate: about twice as fast as
	// klauspost/compress/flate, which was the whole critical path of a
	// large PNG).
	zr := newInflater(zbr)
	sum := adler32.New()
	bpp := max(1, info.bitsPerPixel()/8) // the filters' byte distance
	passes := info.passes()
	conv := newConverter(c, info)
	rgb := info.depth == 8 && info.colorType == ctTrueColor && !c.useTrans
	emit := func(p pngPass, j int, raw []byte) {
		switch {
		case out.red != nil:
			out.red.passRow(p.y0+j*p.dy, conv.convert(raw, p.w), p.x0, p.dx)
		case rgb:
			out.sink.rowRGB(j, raw) // opaque RGB: no conversion needed
		default:
			out.sink.row(j, conv.convert(raw, p.w))
		}
	}
	maxStride := 0
	for _, p := range passes {
		maxStride = max(maxStride, info.stride(p.w))
	}

	if !pipeline {
		cur := make([]byte, maxStride)
		prev := make([]byte, maxStride)
		for _, p := range passes {
			stride := info.stride(p.w)
			clear(prev)
			for j := range p.h {
				if j%batchRows == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				row := cur[:stride]
				if _, err := io.ReadFull(zr, row); err != nil {
					return inflateErr(err)
				}
				sum.Write(row)
				if err := unfilter(row, prev[:stride], bpp); err != nil {
					return err
				}
				emit(p, j, row[1:])
				cur, prev = prev, cur
			}
		}
	} else {
		// Batches of about 1 MiB (one row at least), never more rows than
		// the image has.
		rowsPer := min(max(1, (1<<20)/maxStride), batchRows, info.height)
		free := make(chan []byte, 3)
		full := make(chan rowBatch, 2)
		for range 3 {
			free <- make([]byte, maxStride*rowsPer)
		}
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			defer close(full)
			send := func(b rowBatch) bool {
				select {
				case full <- b:
					return true
				case <-stop:
					return false
				}
			}
			for pi, p := range passes {
				stride := info.stride(p.w)
				for j := 0; j < p.h; j += rowsPer {
					var buf []byte
					select {
					case buf = <-free:
					case <-stop:
						return
					}
					n := min(rowsPer, p.h-j)
					if _, err := io.ReadFull(zr, buf[:n*stride]); err != nil {
						send(rowBatch{err: inflateErr(err)})
						return
					}
					if !send(rowBatch{buf: buf, pass: pi, j: j, rows: n}) {
						return
					}
				}
			}
		}()
		last := make([]byte, maxStride) // the row before a batch
		done := 0                       // rows unfiltered, all passes
		for b := range full {
			if b.err != nil {
				return b.err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			p := passes[b.pass]
			stride := info.stride(p.w)
			if b.j == 0 {
				clear(last)
			}
			sum.Write(b.buf[:b.rows*stride])
			prev := last[:stride]
			for i := range b.rows {
				cur := b.buf[i*stride : (i+1)*stride]
				if err := unfilter(cur, prev, bpp); err != nil {
					return err
				}
				emit(p, b.j+i, cur[1:])
				prev = cur
			}
			copy(last, prev)
			free <- b.buf
			done += b.rows
		}
		want := 0
		for _, p := range passes {
			want += p.h
		}
		if done != want {
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
	switch {
	case errors.Is(err, ErrCorrupt):
		return err
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errCorruptPNG("not enough pixel data")
	}
	return err
}
