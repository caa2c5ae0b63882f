package resize

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

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
