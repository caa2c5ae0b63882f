package resize

import (
	"bytes"
	"context"
	"fmt"
)

// jpegKeep describes which coefficients a scale uses: slot[k] is where
// zigzag coefficient k is kept (-1: not kept), n how many are kept and
// last the highest kept zigzag index.
type jpegKeep struct {
	slot [64]int8
	n    int
	last int
}

func newJPEGKeep(scale int) jpegKeep {
	var k jpegKeep
	side := 8 / scale
	for z, nat := range jpegZigzag {
		k.slot[z] = -1
		if int(nat>>3) < side && int(nat&7) < side {
			k.slot[z] = int8(k.n)
			k.n++
			k.last = z
		}
	}
	return k
}

// keptBytes is what buffered decoding at a scale keeps: int16 per kept
// coefficient, and for progressive files decoded below scale 8 a nonzero
// mask per block for refinement of coefficients it does not keep.
func (d *jpegDecoder) keptBytes(scale int) int64 {
	if !d.buffered {
		return 0
	}
	per := int64(2 * newJPEGKeep(scale).n)
	if d.hdr.progressive && scale < 8 {
		per += 8
	}
	var n int64
	for c := range d.ncomp {
		n += int64(d.comps[c].bw) * int64(d.comps[c].bh) * per
	}
	return n
}

// scale picks the DCT reduction for a thumbnail of tw x th (stored
// orientation): the largest reduction whose decoded size is at least
// twice the thumbnail both ways (none, for a source smaller than that: it
// keeps all its detail); where that needs more kept coefficients than
// budget bytes, the next reductions whose decoded size is still at least
// the thumbnail's. ok is false when none fits the budget.
func (d *jpegDecoder) scale(tw, th int, budget int64) (scale int, ok bool) {
	w, h := d.hdr.width, d.hdr.height
	fits := func(s, k int) bool {
		return (w+s-1)/s >= k*tw && (h+s-1)/s >= k*th
	}
	twice := 1
	for _, s := range []int{8, 4, 2} {
		if fits(s, 2) {
			twice = s
			break
		}
	}
	for s := twice; s <= 8; s *= 2 {
		if s != twice && !fits(s, 1) {
			break
		}
		if d.keptBytes(s) <= budget {
			return s, true
		}
	}
	return twice, false
}

func (d *jpegDecoder) colourModel() (int, error) {
	switch d.ncomp {
	case 1:
		return jpegGrey, nil
	case 3:
		if !d.jfif && (d.adobe && d.adobeTransform == 0 ||
			d.comps[0].id == 'R' && d.comps[1].id == 'G' && d.comps[2].id == 'B') {
			return jpegRGB, nil
		}
		return jpegYCbCr, nil
	}
	if !d.adobe {
		return 0, jpegUnsupported("4-component image without Adobe marker")
	}
	if d.adobeTransform == 0 {
		return jpegCMYK, nil
	}
	return jpegYCCK, nil
}

// decode decodes the image at 1/scale into sink, checking ctx between MCU
// rows (and in progressive files between scans and between MCU rows of
// each scan). On return every goroutine it started has stopped.
func (d *jpegDecoder) decode(ctx context.Context, scale int, budget int64, sink jpegSink) error {
	if scale != 1 && scale != 2 && scale != 4 && scale != 8 {
		return fmt.Errorf("resize: jpeg scale %d: must be 1, 2, 4 or 8", scale)
	}
	if d.ncomp == 0 {
		return fmt.Errorf("resize: jpeg decoder used twice")
	}
	model, err := d.colourModel()
	if err != nil {
		return err
	}
	if n := d.keptBytes(scale); n > budget {
		return fmt.Errorf("%w: jpeg: %d bytes of coefficients at 1/%d scale, over the %d-byte budget", ErrTooLarge, n, scale, budget)
	}
	o := newJPEGOut(d, scale, model, sink)
	if d.buffered {
		err = d.decodeBuffered(ctx, o, scale)
	} else {
		switch {
		case d.canSplit(scale):
			err = d.decodeSplit(ctx, o, scale, budget)
		case d.canPipeline(scale, budget):
			err = d.decodePipelined(ctx, o, scale)
		default:
			err = d.decodeStreaming(ctx, o, scale)
		}
	}
	d.ncomp = 0
	return err
}

// shortData is the error for a scan that needed more bits than it has:
// the source's own failure if it failed, else a corrupt file.
func (d *jpegDecoder) shortData() error {
	if err := d.src.err; err != nil {
		return jpegSourceErr(err)
	}
	return jpegCorrupt("short entropy-coded data")
}

// checkTables refuses a scan that uses an undefined Huffman table.
func (d *jpegDecoder) checkTables() error {
	s := &d.scan
	for i := range s.n {
		if s.ss == 0 && s.ah == 0 && !d.dc[s.td[i]].defined ||
			s.se > 0 && !d.ac[s.ta[i]].defined {
			return jpegCorrupt("undefined Huffman table")
		}
	}
	return nil
}

// restart expects the next RSTn marker, skipping what image/jpeg's
// findRST skips, and resets the entropy decoder.
func (d *jpegDecoder) restart(rst *int) error {
	if d.bits.overrun() {
		return d.shortData()
	}
	d.bits.reset()
	d.pred = [4]int32{}
	d.eobrun = 0
	want := byte(jpegRST0 + *rst)
	*rst = (*rst + 1) & 7
	var p [2]byte
	if err := d.src.readFull(p[:]); err != nil {
		return err
	}
	for {
		switch {
		case p[0] == 0xff && p[1] == want:
			return nil
		case p[0] == 0xff && p[1] == 0xff, p[0] != 0xff && p[1] == 0xff:
			p[0] = 0xff
			c, err := d.src.readByte()
			if err != nil {
				return err
			}
			p[1] = c
			continue
		case p[0] == 0xff && p[1] != 0:
			return jpegCorrupt("bad RST marker")
		}
		if err := d.src.readFull(p[:]); err != nil {
			return err
		}
	}
}

// seqBlock decodes one block of a sequential scan: the DC difference
// into *pred, then the AC coefficients, dequantised by q and stored at
// blk[pos[k]] for k <= kmax (the rest are decoded and dropped). It is the
// hot loop: the bit buffer lives in locals, refilled eight bytes at a
// time, and most coefficients take one table lookup.
func (d *jpegDecoder) seqBlock(dct, act *jpegHuff, pred *int32, blk *[64]int32, q *[64]int32, pos *[64]uint8, kmax int) error {
	data := d.src.buf[:d.src.j]
	p := d.src.i
	acc, n := d.bits.acc, d.bits.n
	var ok bool
	if n < 32 {
		if acc, n, p, ok = jpegRefill8(acc, n, data, p); !ok {
			acc, n, p, data = d.refillSlow(acc, n, p)
		}
	}
	e := dct.fast[acc>>(64-jpegFastBits)]
	var diff int32
	if e&jpegFlagV != 0 {
		l := uint(e & 31)
		acc <<= l
		n -= l
		diff = int32(e) >> 16
	} else {
		var s uint
		if e&31 != 0 {
			s = uint(e >> 8 & 0xff)
			l := uint(e & 31)
			acc <<= l
			n -= l
		} else {
			sym, l, ok := dct.slowBits(acc, 16)
			if !ok {
				d.saveBits(acc, n, p)
				return jpegCorrupt("bad Huffman code")
			}
			acc <<= l
			n -= l
			s = uint(sym)
		}
		if s > 16 {
			d.saveBits(acc, n, p)
			return jpegCorrupt("DC difference too large")
		}
		if s > 0 {
			diff = jpegExtend(uint32(acc>>(64-s)), uint32(s))
			acc <<= s
			n -= s
		}
	}
	dc := *pred + diff
	*pred = dc
	if uint32(dc+2048) > 4096 {
		d.wild = true
	}
	blk[0] = dc * q[0]

	k := 1
	if d.eobrun > 0 {
		d.eobrun--
		k = 64
	}
	for k < 64 {
		if n < 32 {
			if acc, n, p, ok = jpegRefill8(acc, n, data, p); !ok {
				acc, n, p, data = d.refillSlow(acc, n, p)
			}
		}
		e := act.fast[acc>>(64-jpegFastBits)]
		if e&jpegFlagV != 0 {
			k += int(e>>12) & 15
			if k > 63 {
				// A run past the block's end ends it, magnitude unread.
				l := uint(e&31) - uint(e>>8&15)
				acc <<= l
				n -= l
				break
			}
			l := uint(e & 31)
			acc <<= l
			n -= l
			if k <= kmax {
				blk[pos[k&63]&63] = int32(e) >> 16 * q[k&63]
			}
			k++
			continue
		}
		var rs uint
		if e&31 != 0 {
			rs = uint(e >> 8 & 0xff)
			l := uint(e & 31)
			acc <<= l
			n -= l
		} else {
			sym, l, ok := act.slowBits(acc, 16)
			if !ok {
				d.saveBits(acc, n, p)
				return jpegCorrupt("bad Huffman code")
			}
			acc <<= l
			n -= l
			rs = uint(sym)
		}
		r, s := rs>>4, rs&15
		if s == 0 {
			if r == 15 {
				k += 16
				continue
			}
			run := 1 << r
			if r > 0 {
				run |= int(acc >> (64 - r))
				acc <<= r
				n -= r
			}
			d.eobrun = run - 1
			break
		}
		k += int(r)
		if k > 63 {
			break
		}
		v := jpegExtend(uint32(acc>>(64-s)), uint32(s))
		acc <<= s
		n -= s
		if s > 10 {
			d.wild = true
		}
		if k <= kmax {
			blk[pos[k&63]&63] = v * q[k&63]
		}
		k++
	}
	d.saveBits(acc, n, p)
	return nil
}

func (d *jpegDecoder) saveBits(acc uint64, n uint, p int) {
	d.bits.acc, d.bits.n, d.src.i = acc, n, p
}

func (d *jpegDecoder) refillSlow(acc uint64, n uint, p int) (uint64, uint, int, []byte) {
	d.saveBits(acc, n, p)
	d.bits.fill(&d.src)
	return d.bits.acc, d.bits.n, d.src.i, d.src.buf[:d.src.j]
}

// jpegPos maps zigzag index to where seqBlock stores a coefficient:
// natural order for the full IDCT, zigzag order for the reduced ones.
var jpegPos = func() (p [2][64]uint8) {
	for k := range 64 {
		p[0][k] = jpegZigzag[k]
		p[1][k] = uint8(k)
	}
	return p
}()

// seqParams are a sequential scan's per-component tables.
type seqParams struct {
	dc, ac *jpegHuff
	q      *[64]int32
}

func (d *jpegDecoder) seqSetup(scale int) (ps [4]seqParams, pos *[64]uint8, kmax int) {
	for i := range d.scan.n {
		c := &d.comps[d.scan.comp[i]]
		ps[i] = seqParams{&d.dc[d.scan.td[i]], &d.ac[d.scan.ta[i]], &d.quant[c.tq]}
	}
	pos = &jpegPos[1]
	if scale == 1 {
		pos = &jpegPos[0]
	}
	return ps, pos, newJPEGKeep(scale).last
}

// decodeStreaming decodes a single-scan sequential file MCU row by MCU
// row, then reads on to EOI.
func (d *jpegDecoder) decodeStreaming(ctx context.Context, o *jpegOut, scale int) error {
	if err := d.checkTables(); err != nil {
		return err
	}
	if err := d.streamRows(ctx, o, scale, 0, d.mcuy); err != nil {
		return err
	}
	return d.finish(ctx)
}

// streamRows decodes MCU rows [my0, my1) of the first scan into o.
func (d *jpegDecoder) streamRows(ctx context.Context, o *jpegOut, scale, my0, my1 int) error {
	ps, pos, kmax := d.seqSetup(scale)
	sc := &d.scan
	var blk [64]int32
	rst := 0
	mcu := my0 * d.mcux
	for my := my0; my < my1; my++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		for mx := range d.mcux {
			if d.ri > 0 && mcu > 0 && mcu%d.ri == 0 {
				if err := d.restart(&rst); err != nil {
					return err
				}
			}
			for i := range sc.n {
				c := &d.comps[sc.comp[i]]
				pp := &ps[i]
				for by := range c.v {
					for bx := range c.h {
						if err := d.seqBlock(pp.dc, pp.ac, &d.pred[i], &blk, pp.q, pos, kmax); err != nil {
							return err
						}
						o.put(sc.comp[i], mx*c.h+bx, by, &blk)
					}
				}
			}
			mcu++
			if d.bits.overrun() {
				return d.shortData()
			}
		}
		o.flush()
	}
	return nil
}

// finish reads the markers after the image's data up to EOI. Later
// scans of a file already streamed are decoded and dropped, so that the
// file is judged valid exactly when image/jpeg judges it so.
func (d *jpegDecoder) finish(ctx context.Context) error {
	for {
		m, err := d.nextMarker()
		if err != nil {
			return err
		}
		if m == jpegEOI {
			return nil
		}
		sos, err := d.segment(m)
		if err != nil {
			return err
		}
		if !sos {
			continue
		}
		d.wild = true // image/jpeg paints later scans over the first
		if err := d.checkTables(); err != nil {
			return err
		}
		ps, _, _ := d.seqSetup(8)
		var blk [64]int32
		err = d.scanBlocks(ctx, func(i int, c *jpegComp, bi int) error {
			return d.seqBlock(ps[i].dc, ps[i].ac, &d.pred[i], &blk, ps[i].q, &jpegPos[1], -1)
		})
		if err != nil {
			return err
		}
	}
}

// scanBlocks calls fn for every block of the current scan in coding
// order, with the scan component index and the block's index in its
// component's grid, handling restart markers.
func (d *jpegDecoder) scanBlocks(ctx context.Context, fn func(i int, c *jpegComp, bi int) error) error {
	sc := &d.scan
	d.bits.reset()
	d.pred = [4]int32{}
	rst, mcu := 0, 0
	if sc.n == 1 {
		// Non-interleaved: one block an MCU, only blocks holding image
		// data (T.81 A.2.2).
		c := &d.comps[sc.comp[0]]
		for by := range c.ch {
			if by%8 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			for bx := range c.cw {
				if d.ri > 0 && mcu > 0 && mcu%d.ri == 0 {
					if err := d.restart(&rst); err != nil {
						return err
					}
				}
				if err := fn(0, c, by*c.bw+bx); err != nil {
					return err
				}
				mcu++
				if d.bits.overrun() {
					return d.shortData()
				}
			}
		}
		return nil
	}
	for my := range d.mcuy {
		if err := ctx.Err(); err != nil {
			return err
		}
		for mx := range d.mcux {
			if d.ri > 0 && mcu > 0 && mcu%d.ri == 0 {
				if err := d.restart(&rst); err != nil {
					return err
				}
			}
			for i := range sc.n {
				c := &d.comps[sc.comp[i]]
				for by := range c.v {
					for bx := range c.h {
						if err := fn(i, c, (my*c.v+by)*c.bw+mx*c.h+bx); err != nil {
							return err
						}
					}
				}
			}
			mcu++
			if d.bits.overrun() {
				return d.shortData()
			}
		}
	}
	return nil
}

// decodeBuffered decodes every scan into the kept coefficients, then
// turns them into rows.
func (d *jpegDecoder) decodeBuffered(ctx context.Context, o *jpegOut, scale int) error {
	keep := newJPEGKeep(scale)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := d.bufferedScan(ctx, &keep, scale); err != nil {
			return err
		}
		for {
			m, err := d.nextMarker()
			if err != nil {
				return err
			}
			if m == jpegEOI {
				return d.reconstruct(ctx, o, &keep, scale)
			}
			sos, err := d.segment(m)
			if err != nil {
				return err
			}
			if sos {
				break
			}
		}
	}
}

func (d *jpegDecoder) bufferedScan(ctx context.Context, keep *jpegKeep, scale int) error {
	sc := d.scan
	for i := range sc.n {
		d.comps[sc.comp[i]].seen = true
	}
	if scale == 8 && sc.ss > 0 {
		// AC coefficients are not used at 1/8: skip the scan's bytes
		// without decoding them.
		d.eobrun = 0
		return d.skipScan()
	}
	if err := d.checkTables(); err != nil {
		return err
	}
	progressive := d.hdr.progressive
	for i := range sc.n {
		c := &d.comps[sc.comp[i]]
		if c.coef == nil {
			c.coef = make([]int16, c.bw*c.bh*keep.n)
		}
		if progressive && scale < 8 && sc.se > 0 && c.mask == nil {
			c.mask = make([]uint64, c.bw*c.bh)
		}
	}
	kn := keep.n
	switch {
	case sc.ss == 0 && sc.ah == 0:
		return d.scanBlocks(ctx, func(i int, c *jpegComp, bi int) error {
			coef := c.coef[bi*kn : bi*kn+kn]
			var mask *uint64
			if c.mask != nil {
				mask = &c.mask[bi]
			}
			if !progressive {
				clear(coef)
			}
			s, err := d.huff(&d.dc[sc.td[i]])
			if err != nil {
				return err
			}
			if s > 16 {
				return jpegCorrupt("DC difference too large")
			}
			d.pred[i] += jpegExtend(d.getBits(uint(s)), uint32(s))
			d.store(coef, keep, mask, 0, d.pred[i]<<sc.al)
			if sc.se == 0 {
				return nil
			}
			if mask != nil {
				*mask = 0
			}
			return d.acFirst(&d.ac[sc.ta[i]], coef, keep, mask, 1, sc.se, sc.al)
		})
	case sc.ss == 0:
		return d.scanBlocks(ctx, func(i int, c *jpegComp, bi int) error {
			if d.getBits(1) != 0 {
				c.coef[bi*kn] |= 1 << sc.al
			}
			return nil
		})
	case sc.ah == 0:
		t := &d.ac[sc.ta[0]]
		return d.scanBlocks(ctx, func(i int, c *jpegComp, bi int) error {
			return d.acFirst(t, c.coef[bi*kn:bi*kn+kn], keep, &c.mask[bi], sc.ss, sc.se, sc.al)
		})
	default:
		t := &d.ac[sc.ta[0]]
		return d.scanBlocks(ctx, func(i int, c *jpegComp, bi int) error {
			return d.acRefine(t, c.coef[bi*kn:bi*kn+kn], keep, &c.mask[bi], sc.ss, sc.se, sc.al)
		})
	}
}

// store keeps coefficient k if the scale uses it and notes it nonzero.
func (d *jpegDecoder) store(coef []int16, keep *jpegKeep, mask *uint64, k int, v int32) {
	if s := keep.slot[k&63]; s >= 0 {
		if uint32(v+2048) > 4096 {
			d.wild = true
		}
		coef[s] = int16(v)
	}
	if mask != nil && v != 0 {
		*mask |= 1 << (k & 63)
	}
}

// acFirst decodes a first pass over AC coefficients ss..se (T.81 G.1.2.2,
// and the AC part of a sequential block), as image/jpeg does: runs past
// the band end it, EOB runs carry across blocks.
func (d *jpegDecoder) acFirst(t *jpegHuff, coef []int16, keep *jpegKeep, mask *uint64, ss, se, al int) error {
	if d.eobrun > 0 {
		d.eobrun--
		return nil
	}
	for k := ss; k <= se; k++ {
		rs, err := d.huff(t)
		if err != nil {
			return err
		}
		r, s := int(rs>>4), uint(rs&15)
		if s == 0 {
			if r < 15 {
				run := 1 << r
				if r > 0 {
					run |= int(d.getBits(uint(r)))
				}
				d.eobrun = run - 1
				return nil
			}
			k += 15
			continue
		}
		k += r
		if k > se {
			return nil
		}
		v := jpegExtend(d.getBits(s), uint32(s))
		if s > 10 {
			d.wild = true
		}
		d.store(coef, keep, mask, k, v<<al)
	}
	return nil
}

// acRefine decodes a successive-approximation refinement pass (T.81
// G.1.2.3). Which coefficients are already nonzero comes from the mask,
// so coefficients the scale does not keep still steer the bit stream.
func (d *jpegDecoder) acRefine(t *jpegHuff, coef []int16, keep *jpegKeep, mask *uint64, ss, se, al int) error {
	delta := int32(1) << al
	k := ss
	if d.eobrun == 0 {
		for ; k <= se; k++ {
			rs, err := d.huff(t)
			if err != nil {
				return err
			}
			r, s := int(rs>>4), rs&15
			var z int32
			switch s {
			case 0:
				if r != 15 {
					d.eobrun = 1 << r
					if r > 0 {
						d.eobrun |= int(d.getBits(uint(r)))
					}
					goto rest
				}
			case 1:
				z = delta
				if d.getBits(1) == 0 {
					z = -delta
				}
			default:
				return jpegCorrupt("bad refinement code")
			}
			k = d.refineNonzero(coef, keep, *mask, k, se, r, delta)
			if k > se {
				return jpegCorrupt("too many coefficients")
			}
			if z != 0 {
				d.store(coef, keep, mask, k, z)
			}
		}
	}
rest:
	if d.eobrun > 0 {
		d.eobrun--
		d.refineNonzero(coef, keep, *mask, k, se, -1, delta)
	}
	return nil
}

// refineNonzero reads a correction bit for each already-nonzero
// coefficient from k on, stopping at the (nz+1)-th zero one (never when
// nz < 0); it returns where it stopped.
func (d *jpegDecoder) refineNonzero(coef []int16, keep *jpegKeep, mask uint64, k, se, nz int, delta int32) int {
	for ; k <= se; k++ {
		if mask&(1<<(k&63)) == 0 {
			if nz == 0 {
				break
			}
			nz--
			continue
		}
		if d.getBits(1) == 0 {
			continue
		}
		if s := keep.slot[k&63]; s >= 0 {
			v := int32(coef[s])
			if v >= 0 {
				v += delta
			} else {
				v -= delta
			}
			if uint32(v+2048) > 4096 {
				d.wild = true
			}
			coef[s] = int16(v)
		}
	}
	return k
}

// skipScan moves past a scan's entropy-coded bytes to the next marker
// that is not RSTn, without decoding them.
func (d *jpegDecoder) skipScan() error {
	s := &d.src
	for {
		i := bytes.IndexByte(s.buf[s.i:s.j], 0xff)
		if i < 0 {
			s.i = s.j
			if !s.more() {
				return jpegSourceErr(s.err)
			}
			continue
		}
		s.i += i
		if s.i+1 >= s.j && !s.more() {
			return jpegSourceErr(s.err)
		}
		switch m := s.buf[s.i+1]; {
		case m == 0xff:
			s.i++
		case m == 0 || m >= jpegRST0 && m <= jpegRST7:
			s.i += 2
		default:
			return nil
		}
	}
}

// reconstruct turns the kept coefficients into rows, MCU row by MCU row,
// with the quantisation tables in force at the end (as image/jpeg).
func (d *jpegDecoder) reconstruct(ctx context.Context, o *jpegOut, keep *jpegKeep, scale int) error {
	var blk [64]int32
	kn := keep.n
	for my := range d.mcuy {
		if err := ctx.Err(); err != nil {
			return err
		}
		for ci := range d.ncomp {
			c := &d.comps[ci]
			q := &d.quant[c.tq]
			for by := range c.v {
				row := (my*c.v + by) * c.bw
				for bx := range c.bw {
					if !c.seen {
						blk[0] = -1024 // all samples 0
					} else if c.coef != nil {
						coef := c.coef[(row+bx)*kn : (row+bx)*kn+kn]
						if scale == 1 {
							for k, v := range coef[:64] {
								if v != 0 {
									blk[jpegZigzag[k]] = int32(v) * q[k]
								}
							}
						} else {
							for k := range keep.last + 1 {
								if s := keep.slot[k]; s >= 0 {
									blk[k] = int32(coef[s]) * q[k]
								}
							}
						}
					}
					o.put(ci, bx, by, &blk)
				}
			}
		}
		o.flush()
	}
	return nil
}
