package resize

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
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
