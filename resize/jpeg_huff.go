package resize

import "encoding/binary"

// jpegFastBits is how many bits the Huffman tables resolve in one lookup.
// Ten bits keep four tables in 16 KB (level-1 cache) and resolve most codes
// of a quality-90 photo together with their magnitude bits.
const jpegFastBits = 10

// A fast-table entry: bits 0-4 the bits to consume, bit 5 set when bits
// 16-31 hold the decoded value (code and magnitude fitted), bits 8-15 the
// symbol. Zero means the code is longer than jpegFastBits.
const jpegFlagV = 1 << 5

// jpegHuff is a Huffman table. It decodes exactly as image/jpeg does, even
// for tables whose codes overflow their lengths (which libjpeg refuses and
// image/jpeg accepts): the two then agree on which files are valid.
type jpegHuff struct {
	defined bool
	dcTable bool
	fast    [1 << jpegFastBits]uint32
	maxCode [16]int32 // per length-1, -1 when none
	valIdx  [16]int32 // index into vals of code 0 of that length
	nvals   int32
	vals    [256]byte
}

func (t *jpegHuff) build(counts *[16]int, vals []byte, ac bool) {
	t.defined = true
	t.dcTable = !ac
	t.nvals = int32(len(vals))
	copy(t.vals[:], vals)
	// image/jpeg's 8-bit table, wrapping codes that overflow as it does.
	var lut [256]uint16
	x, code := 0, uint32(0)
	for i := range 8 {
		code <<= 1
		for range counts[i] {
			base := uint8(code << (7 - i))
			v := uint16(vals[x])<<8 | uint16(2+i)
			for k := range 1 << (7 - i) {
				lut[base|uint8(k)] = v
			}
			code++
			x++
		}
	}
	c, idx := int32(0), int32(0)
	for i, n := range counts {
		if n == 0 {
			t.maxCode[i] = -1
			t.valIdx[i] = 0
		} else {
			t.maxCode[i] = c + int32(n) - 1
			t.valIdx[i] = idx - c
			c += int32(n)
			idx += int32(n)
		}
		c <<= 1
	}
	for p := range uint32(1 << jpegFastBits) {
		var sym, l uint32
		if v := lut[p>>(jpegFastBits-8)]; v != 0 {
			sym, l = uint32(v>>8), uint32(v&0xff)-1
		} else {
			s, n, ok := t.slowBits(uint64(p)<<(64-jpegFastBits), jpegFastBits)
			if !ok {
				t.fast[p] = 0
				continue
			}
			sym, l = uint32(s), uint32(n)
		}
		size := sym & 15
		if !ac {
			size = sym
		}
		e := sym<<8 | l
		if (!ac || size != 0) && size <= 16 && l+size <= jpegFastBits {
			bits := (p >> (jpegFastBits - l - size)) & (1<<size - 1)
			e |= jpegFlagV | uint32(jpegExtend(bits, size))<<16
			e = e&^31 | (l + size)
		}
		t.fast[p] = e
	}
}

// slowBits decodes a code from the top bits of acc as image/jpeg's bit by
// bit path does, looking at no more than maxLen bits.
func (t *jpegHuff) slowBits(acc uint64, maxLen int) (sym byte, n uint, ok bool) {
	for i := range maxLen {
		code := int32(acc >> (63 - i))
		if code <= t.maxCode[i] {
			j := t.valIdx[i] + code
			if j < 0 || j >= t.nvals {
				return 0, 0, false
			}
			return t.vals[j], uint(i + 1), true
		}
	}
	return 0, 0, false
}

// jpegExtend is T.81's EXTEND: s magnitude bits to a signed value.
func jpegExtend(bits uint32, s uint32) int32 {
	if s == 0 {
		return 0
	}
	v := int32(bits)
	if v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v
}

// jpegBits is the entropy decoder's bit buffer: the next n bits of the
// scan sit at the top of acc. Past a marker or the end of input it
// appends zeros, counted in pad; consuming any of them (n < pad) means
// the data was short.
type jpegBits struct {
	acc     uint64
	n, pad  uint
	stuffed int // 0xFF00 pairs consumed, to turn byte offsets into bit positions
}

func (b *jpegBits) reset() { *b = jpegBits{stuffed: b.stuffed} }

// overrun reports whether decoding used bits the scan does not have.
func (b *jpegBits) overrun() bool { return b.n < b.pad }

// jpegRefill8 is the fast refill: eight bytes at once when none is 0xFF.
// The bytes past those it counts land in acc below the valid bits; they
// are the stream's next bits, so a later refill ORs identical bits there.
func jpegRefill8(acc uint64, n uint, data []byte, p int) (uint64, uint, int, bool) {
	if p < 0 || p+8 > len(data) {
		return acc, n, p, false
	}
	x := binary.BigEndian.Uint64(data[p:])
	if x&0x8080808080808080&((x&0x7f7f7f7f7f7f7f7f)+0x0101010101010101) != 0 {
		return acc, n, p, false
	}
	k := (63 - n) >> 3
	return acc | x>>n, n + k<<3, p + int(k), true
}

// fill tops up the buffer to more than 56 bits a byte at a time,
// unstuffing 0xFF00 and stopping at a marker or the end of input.
func (b *jpegBits) fill(s *jpegSource) {
	for b.n <= 56 {
		if b.pad == 0 {
			if s.i >= s.j && !s.more() {
				b.startPad()
				continue
			}
			c := s.buf[s.i]
			if c == 0xff {
				if s.i+1 >= s.j && !s.more() {
					b.startPad()
					continue
				}
				if s.buf[s.i+1] != 0 {
					b.startPad() // a marker: the scan's data ends here
					continue
				}
				s.i += 2
				b.stuffed++
			} else {
				s.i++
			}
			b.acc |= uint64(c) << (56 - b.n)
			b.n += 8
			continue
		}
		b.n += 8
		b.pad += 8
	}
}

func (b *jpegBits) startPad() {
	b.acc &^= ^uint64(0) >> b.n
	b.n += 8
	b.pad += 8
}

// ensure makes at least 32 bits (real or padding) available.
func (d *jpegDecoder) ensure() {
	if d.bits.n >= 32 {
		return
	}
	var ok bool
	d.bits.acc, d.bits.n, d.src.i, ok = jpegRefill8(d.bits.acc, d.bits.n, d.src.buf[:d.src.j], d.src.i)
	if !ok {
		d.bits.fill(&d.src)
	}
}

// getBits reads n <= 16 bits.
func (d *jpegDecoder) getBits(n uint) uint32 {
	d.ensure()
	v := uint32(d.bits.acc >> (64 - n))
	if n == 0 {
		v = 0
	}
	d.bits.acc <<= n
	d.bits.n -= n
	return v
}

// huff decodes one symbol.
func (d *jpegDecoder) huff(t *jpegHuff) (byte, error) {
	d.ensure()
	e := t.fast[d.bits.acc>>(64-jpegFastBits)]
	if e&31 != 0 {
		l := uint(e & 31)
		if e&jpegFlagV != 0 {
			l = t.codeLen(e)
		}
		d.bits.acc <<= l
		d.bits.n -= l
		return byte(e >> 8), nil
	}
	sym, l, ok := t.slowBits(d.bits.acc, 16)
	if !ok {
		return 0, jpegCorrupt("bad Huffman code")
	}
	d.bits.acc <<= l
	d.bits.n -= l
	return sym, nil
}

// codeLen is the code length of a resolved entry, whose length includes
// the magnitude bits.
func (t *jpegHuff) codeLen(e uint32) uint {
	size := e >> 8 & 0xff
	if !t.dcTable {
		size &= 15
	}
	return uint(e&31) - uint(size)
}
