package resize

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

// convert turns a raw row of w pixels into NRGBA. The result is valid
// until the next call, and must not be written: it may be raw itself.
func (cv *converter) convert(raw []byte, w int) []byte {
	out := cv.out[:4*w]
	useTrans := cv.c.useTrans
	switch cv.info.depth<<8 | cv.info.colorType {
	case 1<<8 | ctGray, 2<<8 | ctGray, 4<<8 | ctGray:
		// As image/png: samples scaled to 8 bits, and so is the tRNS
		// value, low byte only.
		d := uint(cv.info.depth)
		scale := uint8(0xff / (1<<d - 1))
		ty := cv.c.trans[1] * scale
		for x := range w {
			v := unpack(raw, x, d) * scale
			a := uint8(0xff)
			if useTrans && v == ty {
				a = 0
			}
			out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = v, v, v, a
		}
	case 1<<8 | ctPaletted, 2<<8 | ctPaletted, 4<<8 | ctPaletted:
		pal := &cv.c.palette
		d := uint(cv.info.depth)
		for x := range w {
			p := pal[unpack(raw, x, d)]
			copy(out[4*x:4*x+4], p[:])
		}
	case 8<<8 | ctRGBA:
		return raw[:4*w] // already NRGBA; sinks only read their rows
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

// unpack returns sample x of a row of d-bit samples (d = 1, 2 or 4),
// packed from the high bits of each byte.
func unpack(raw []byte, x int, d uint) uint8 {
	per := 8 / d
	shift := (per - 1 - uint(x)%per) * d
	return raw[uint(x)/per] >> shift & (1<<d - 1)
}
