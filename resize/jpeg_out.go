package resize

// jpegSink receives decoded rows at the reduced size, top to bottom, in
// bands: n rows starting at row y, each ceil(width/scale) pixels, row i at
// p[i*stride:]. Pixels are RGB, 3 bytes each, for 3- and 4-component
// images, and grey, 1 byte, for 1-component images.
type jpegSink interface {
	rows(y, n int, p []byte, stride int)
}

// Colour models, as image/jpeg decides them.
const (
	jpegGrey = iota
	jpegYCbCr
	jpegRGB
	jpegCMYK // Adobe, inverted
	jpegYCCK
)

// jpegOut holds one MCU row of samples per component at the reduced scale
// and turns it into output rows: chroma replicated to the luma grid (as
// image/jpeg's YCbCr image does), then converted to RGB.
type jpegOut struct {
	d      *jpegDecoder
	sink   jpegSink
	model  int
	bs     int // samples a block side
	ow, oh int
	y, my  int // next output row, MCU row
	mrows  int // output rows an MCU row makes
	planes [4][]byte
	stride [4]int
	hr, vr [4]int // replication factors
	band   []byte
	up     [4][]byte // replicated rows
}

func newJPEGOut(d *jpegDecoder, scale, model int, sink jpegSink) *jpegOut {
	o := &jpegOut{d: d, sink: sink, model: model, bs: 8 / scale}
	o.ow = (d.hdr.width + scale - 1) / scale
	o.oh = (d.hdr.height + scale - 1) / scale
	o.mrows = d.vmax * o.bs
	for c := range d.ncomp {
		k := &d.comps[c]
		o.stride[c] = k.bw * o.bs
		o.planes[c] = make([]byte, o.stride[c]*k.v*o.bs)
		o.hr[c], o.vr[c] = d.hmax/k.h, d.vmax/k.v
		if o.hr[c] != 1 {
			o.up[c] = make([]byte, o.ow)
		}
	}
	if model != jpegGrey {
		o.band = make([]byte, o.mrows*o.ow*3)
	}
	return o
}

// put writes block (bx, by) of component c's MCU row from blk, natural
// order at scale 1, zigzag order at reduced scales; blk is left zero.
func (o *jpegOut) put(c, bx, by int, blk *[64]int32) {
	bs := o.bs
	st := o.stride[c]
	dst := o.planes[c][by*bs*st+bx*bs:]
	switch bs {
	case 8:
		idct8(blk, dst, st)
	case 4:
		idct4(blk, dst, st)
	case 2:
		idct2(blk, dst, st)
	default:
		dst[0] = idct1(blk)
	}
}

// flush converts the MCU row held in the planes and hands it to the sink.
func (o *jpegOut) flush() {
	d := o.d
	my := o.my
	o.my++
	n := min(o.mrows, o.oh-o.y)
	if n <= 0 {
		return
	}
	if d.rawHook != nil {
		for c := range d.ncomp {
			v := d.comps[c].v * o.bs
			d.rawHook(c, my*v, v, o.planes[c], o.stride[c])
		}
	}
	if o.model == jpegGrey && o.hr[0] == 1 && o.vr[0] == 1 {
		o.sink.rows(o.y, n, o.planes[0], o.stride[0])
		o.y += n
		return
	}
	ow := o.ow
	if o.model == jpegYCbCr && o.hr[0] == 1 && o.vr[0] == 1 && o.hr[1] == 2 && o.hr[2] == 2 {
		// 4:2:0 and 4:2:2, most photos: chroma is not replicated into
		// a row of its own but used for two pixels at once.
		for r := range n {
			yccRow2(o.band[r*ow*3:(r+1)*ow*3],
				o.planes[0][r*o.stride[0]:][:ow],
				o.planes[1][r/o.vr[1]*o.stride[1]:][:(ow+1)/2],
				o.planes[2][r/o.vr[2]*o.stride[2]:][:(ow+1)/2])
		}
		o.sink.rows(o.y, n, o.band, ow*3)
		o.y += n
		return
	}
	var rows [4][]byte
	for r := range n {
		for c := range d.ncomp {
			src := o.planes[c][r/o.vr[c]*o.stride[c]:]
			switch hr := o.hr[c]; hr {
			case 1:
				rows[c] = src[:ow]
			case 2:
				up := o.up[c][:ow]
				for i := range up {
					up[i] = src[i>>1]
				}
				rows[c] = up
			default:
				up := o.up[c][:ow]
				for i := range up {
					up[i] = src[i/hr]
				}
				rows[c] = up
			}
		}
		dst := o.band[r*ow*3 : (r+1)*ow*3]
		switch o.model {
		case jpegGrey:
			copy(dst, rows[0])
		case jpegYCbCr:
			yccRow(dst, rows[0], rows[1], rows[2])
		case jpegRGB:
			rgbRow(dst, rows[0], rows[1], rows[2])
		case jpegCMYK:
			cmykRow(dst, rows[0], rows[1], rows[2], rows[3])
		case jpegYCCK:
			ycckRow(dst, rows[0], rows[1], rows[2], rows[3])
		}
	}
	stride := ow * 3
	if o.model == jpegGrey {
		stride = ow
	}
	o.sink.rows(o.y, n, o.band, stride)
	o.y += n
}

// yccRow converts with image/color.YCbCrToRGB's integer formula.
func yccRow(dst, y, cb, cr []byte) {
	cb, cr = cb[:len(y)], cr[:len(y)]
	dst = dst[:3*len(y)]
	for i, yv := range y {
		yy := int32(yv) * 0x10101
		b1 := int32(cb[i]) - 128
		r1 := int32(cr[i]) - 128
		r := yy + 91881*r1
		g := yy - 22554*b1 - 46802*r1
		b := yy + 116130*b1
		d := dst[3*i : 3*i+3 : 3*i+3]
		d[0], d[1], d[2] = clampYCC(r), clampYCC(g), clampYCC(b)
	}
}

// yccRow2 is yccRow with chroma at half the width.
func yccRow2(dst, y, cb, cr []byte) {
	n := len(y) / 2
	cb, cr = cb[:(len(y)+1)/2], cr[:(len(y)+1)/2]
	dst = dst[:3*len(y)]
	for i := range n {
		b1 := int32(cb[i]) - 128
		r1 := int32(cr[i]) - 128
		rt := 91881 * r1
		gt := -22554*b1 - 46802*r1
		bt := 116130 * b1
		y0 := int32(y[2*i]) * 0x10101
		y1 := int32(y[2*i+1]) * 0x10101
		d := dst[6*i : 6*i+6 : 6*i+6]
		d[0], d[1], d[2] = clampYCC(y0+rt), clampYCC(y0+gt), clampYCC(y0+bt)
		d[3], d[4], d[5] = clampYCC(y1+rt), clampYCC(y1+gt), clampYCC(y1+bt)
	}
	if len(y)&1 != 0 {
		yccRow(dst[6*n:], y[2*n:], cb[n:], cr[n:])
	}
}

// clampYCC is image/color's clamp of a 16.16 fixed-point result.
func clampYCC(v int32) uint8 {
	if uint32(v)&0xff000000 == 0 {
		return uint8(v >> 16)
	}
	return uint8(^(v >> 31))
}

func rgbRow(dst, r, g, b []byte) {
	g, b = g[:len(r)], b[:len(r)]
	dst = dst[:3*len(r)]
	for i := range r {
		d := dst[3*i : 3*i+3 : 3*i+3]
		d[0], d[1], d[2] = r[i], g[i], b[i]
	}
}

// cmykRow converts Adobe (inverted) CMYK as image/jpeg and
// image/color.CMYK do: ink = 255-sample, then 16-bit CMYK to RGB.
func cmykRow(dst, c, m, y, k []byte) {
	m, y, k = m[:len(c)], y[:len(c)], k[:len(c)]
	dst = dst[:3*len(c)]
	for i := range c {
		w := uint32(k[i]) * 0x101
		d := dst[3*i : 3*i+3 : 3*i+3]
		d[0] = uint8(uint32(c[i]) * 0x101 * w / 0xffff >> 8)
		d[1] = uint8(uint32(m[i]) * 0x101 * w / 0xffff >> 8)
		d[2] = uint8(uint32(y[i]) * 0x101 * w / 0xffff >> 8)
	}
}

// ycckRow converts YCCK as image/jpeg does: YCbCr to RGB gives the
// inverted CMY, K is inverted, then CMYK to RGB.
func ycckRow(dst, y, cb, cr, k []byte) {
	cb, cr, k = cb[:len(y)], cr[:len(y)], k[:len(y)]
	dst = dst[:3*len(y)]
	var rgb [3]byte
	for i := range y {
		yccRow(rgb[:], y[i:i+1], cb[i:i+1], cr[i:i+1])
		w := uint32(k[i]) * 0x101
		d := dst[3*i : 3*i+3 : 3*i+3]
		for j := range 3 {
			d[j] = uint8((0xffff - uint32(rgb[j])*0x101) * w / 0xffff >> 8)
		}
	}
}
