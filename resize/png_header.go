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
// every bit depth and colour type, interlaced or not (Adam7 passes go to an
// output-sized accumulator). Chunk rules follow image/png's, so both accept
// and refuse the same files.

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

// check refuses the combinations of colour type and depth PNG does not
// define, as image/png does.
func (p pngInfo) check() error {
	ok := false
	switch p.colorType {
	case ctGray:
		ok = p.depth == 1 || p.depth == 2 || p.depth == 4 || p.depth == 8 || p.depth == 16
	case ctPaletted:
		ok = p.depth == 1 || p.depth == 2 || p.depth == 4 || p.depth == 8
	case ctTrueColor, ctGrayAlpha, ctRGBA:
		ok = p.depth == 8 || p.depth == 16
	}
	if !ok {
		return fmt.Errorf("%w: png: bit depth %d, color type %d", ErrUnsupported, p.depth, p.colorType)
	}
	return nil
}

// bitsPerPixel of the raw, filtered data.
func (p pngInfo) bitsPerPixel() int {
	ch := map[int]int{ctGray: 1, ctTrueColor: 3, ctPaletted: 1, ctGrayAlpha: 2, ctRGBA: 4}[p.colorType]
	return ch * p.depth
}

// pngPass is one pass of the image data: the pixels at x0 + i*dx of the
// rows y0 + j*dy, w×h of them. A plain PNG has one pass of every pixel,
// an interlaced one the seven of Adam7.
type pngPass struct {
	x0, y0, dx, dy int
	w, h           int
}

// passes returns the passes of the image data, empty ones left out.
func (p pngInfo) passes() []pngPass {
	if !p.interlaced {
		return []pngPass{{0, 0, 1, 1, p.width, p.height}}
	}
	var out []pngPass
	for _, a := range [7][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}} {
		x0, y0, dx, dy := a[0], a[1], a[2], a[3]
		w, h := (p.width-x0+dx-1)/dx, (p.height-y0+dy-1)/dy
		if w > 0 && h > 0 {
			out = append(out, pngPass{x0, y0, dx, dy, w, h})
		}
	}
	return out
}

// stride is the bytes of one filtered row of a pass w pixels wide, filter
// byte included.
func (p pngInfo) stride(w int) int { return 1 + (w*p.bitsPerPixel()+7)/8 }
