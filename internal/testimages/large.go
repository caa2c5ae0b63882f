package testimages

import (
	"bytes"
	"compress/lzw"
	"compress/zlib"
	"encoding/binary"
	"math/bits"
)

// Large sources for the memory tests: their pixels are cheap to make (one
// colour, or noise from a fixed seed) and they stream into their encoder,
// so a test can build a 50-megapixel file without holding its pixels.

// SolidPNG returns a w×h PNG of one colour in the layout asked for: depth
// bits per sample, colour type (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6
// RGBA), Adam7-interlaced or not. Palette images get a two-entry palette.
func SolidPNG(w, h, depth, colorType int, interlaced bool) []byte {
	channels := map[int]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colorType]
	bpp := channels * depth
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	for _, p := range adam7(interlaced) {
		if p.x0 >= w || p.y0 >= h {
			continue
		}
		pw := (w - p.x0 + p.dx - 1) / p.dx
		row := make([]byte, 1+(pw*bpp+7)/8)
		for i := 1; i < len(row); i++ {
			row[i] = 0x5a // the same byte everywhere: a valid sample of every depth
		}
		if colorType == 3 {
			clear(row[1:]) // palette index 0
		}
		for y := p.y0; y < h; y += p.dy {
			zw.Write(row)
		}
	}
	zw.Close()
	var plte []byte
	if colorType == 3 {
		plte = []byte{200, 100, 50, 10, 20, 30}
	}
	return assemble(w, h, depth, colorType, interlaced, plte, nil, z.Bytes())
}

// NoisePNG returns a w×h 8-bit grey PNG of noise from seed: as large as
// its pixels, like a noisy scan.
func NoisePNG(w, h int, seed uint64) []byte {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	r := rng(seed | 1)
	row := make([]byte, 1+w)
	for range h {
		for i := 1; i < len(row); i += 8 {
			v := r.next()
			for j := 0; j < 8 && i+j < len(row); j++ {
				row[i+j] = byte(v >> (8 * j))
			}
		}
		zw.Write(row)
	}
	zw.Close()
	return assemble(w, h, 8, 0, false, nil, nil, z.Bytes())
}

type pass struct{ x0, y0, dx, dy int }

func adam7(interlaced bool) []pass {
	if !interlaced {
		return []pass{{0, 0, 1, 1}}
	}
	return []pass{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
}

// assemble writes a PNG around compressed image data, with PLTE and tRNS
// chunks when given.
func assemble(w, h, depth, colorType int, interlaced bool, plte, trns, idat []byte) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = byte(depth), byte(colorType)
	if interlaced {
		ihdr[12] = 1
	}
	chunk(&out, "IHDR", ihdr)
	if plte != nil {
		chunk(&out, "PLTE", plte)
	}
	if trns != nil {
		chunk(&out, "tRNS", trns)
	}
	// IDAT in chunks of 1 MiB, as encoders write them.
	for len(idat) > 0 {
		n := min(len(idat), 1<<20)
		chunk(&out, "IDAT", idat[:n])
		idat = idat[n:]
	}
	chunk(&out, "IEND", nil)
	return out.Bytes()
}

// SolidGIF returns a w×h GIF of one colour, interlaced or not: its LZW
// data streams from a row at a time.
func SolidGIF(w, h int, interlaced bool) []byte {
	var out bytes.Buffer
	out.WriteString("GIF89a")
	binary.Write(&out, binary.LittleEndian, [2]uint16{uint16(w), uint16(h)})
	out.Write([]byte{0x80, 0, 0}) // global colour table of 2 entries
	out.Write([]byte{200, 100, 50, 10, 20, 30})
	out.WriteByte(0x2c)
	binary.Write(&out, binary.LittleEndian, [4]uint16{0, 0, uint16(w), uint16(h)})
	fields := byte(0)
	if interlaced {
		fields = 0x40
	}
	out.WriteByte(fields)
	out.WriteByte(2) // LZW minimum code size
	var data bytes.Buffer
	lw := lzw.NewWriter(&data, lzw.LSB, 2)
	row := make([]byte, w)
	for range h {
		lw.Write(row)
	}
	lw.Close()
	b := data.Bytes()
	for len(b) > 0 {
		n := min(len(b), 255)
		out.WriteByte(byte(n))
		out.Write(b[:n])
		b = b[n:]
	}
	out.WriteByte(0)
	out.WriteByte(0x3b)
	return out.Bytes()
}

// jpegWriter writes JPEG markers and segments.
type jpegWriter struct{ bytes.Buffer }

func (w *jpegWriter) marker(m byte, payload ...byte) {
	w.Write([]byte{0xff, m})
	if m == 0xd8 || m == 0xd9 { // SOI, EOI: no segment
		return
	}
	w.Write([]byte{byte((len(payload) + 2) >> 8), byte(len(payload) + 2)})
	w.Write(payload)
}

// JPEGBomb is a progressive JPEG claiming size×size×3 whose scans are
// AC-only and end every band at once with EOB runs: a few bytes a scan,
// whatever the size. A decoder that keeps every coefficient of a
// progressive image (image/jpeg) needs gigabytes for it.
func JPEGBomb(size, scans int) []byte {
	var w jpegWriter
	w.marker(0xd8)
	w.marker(0xdb, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...)...)
	w.marker(0xc2, 8, byte(size>>8), byte(size), byte(size>>8), byte(size), 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0)
	// AC table 0: symbols r<<4 (EOB run of 2^r plus r more bits), r =
	// 0..14, each with the 4-bit code r.
	dht := []byte{0x10, 0, 0, 0, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for r := range 15 {
		dht = append(dht, byte(r<<4))
	}
	w.marker(0xc4, dht...)
	blocks := ((size + 7) / 8) * ((size + 7) / 8)
	for s := range scans {
		w.marker(0xda, 1, byte(1+s%3), 0, 1, 63, 0)
		var acc, n uint
		put := func(v, bits uint) {
			acc, n = acc<<bits|v, n+bits
			for n >= 8 {
				c := byte(acc >> (n - 8))
				w.WriteByte(c)
				if c == 0xff {
					w.WriteByte(0)
				}
				n -= 8
			}
		}
		for left := blocks; left > 0; {
			run := min(left, 32767)
			r := uint(bits.Len(uint(run))) - 1
			put(r, 4)
			put(uint(run)-1<<r, r)
			left -= run
		}
		if n > 0 {
			put(1<<(8-n)-1, 8-n)
		}
	}
	w.marker(0xd9)
	return w.Bytes()
}
