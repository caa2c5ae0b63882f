package resize

import "image"

// fullSink keeps every row: the whole image, for sources too small to
// shrink on load.
type fullSink struct{ img *image.NRGBA }

func newFullSink(w, h int) *fullSink { return &fullSink{img: image.NewNRGBA(image.Rect(0, 0, w, h))} }

func (s *fullSink) row(y int, p []byte) { copy(s.img.Pix[y*s.img.Stride:], p) }

// boxSink shrinks on load: it averages kx×ky blocks of source pixels as the
// rows arrive, weighting colour by alpha as imaging does, so the full-size
// image never exists. Blocks at the right and bottom edges may be smaller.
type boxSink struct {
	w, h   int
	kx, ky int
	acc    []uint64 // per output column: alpha-weighted r, g, b, and a
	rows   int      // source rows in the current block
	out    *image.NRGBA
	oy     int
}

func newBoxSink(w, h, kx, ky int) *boxSink {
	rw, rh := (w+kx-1)/kx, (h+ky-1)/ky
	return &boxSink{w: w, h: h, kx: kx, ky: ky, acc: make([]uint64, 4*rw), out: image.NewNRGBA(image.Rect(0, 0, rw, rh))}
}

func (s *boxSink) row(y int, p []byte) {
	acc := s.acc
	kx := s.kx
	for bx, x0 := 0, 0; x0 < s.w; bx, x0 = bx+1, x0+kx {
		var r, g, b, a uint64
		end := min(x0+kx, s.w) * 4
		for i := x0 * 4; i < end; i += 4 {
			pa := uint64(p[i+3])
			r += uint64(p[i]) * pa
			g += uint64(p[i+1]) * pa
			b += uint64(p[i+2]) * pa
			a += pa
		}
		acc[4*bx] += r
		acc[4*bx+1] += g
		acc[4*bx+2] += b
		acc[4*bx+3] += a
	}
	s.rows++
	if s.rows == s.ky || y == s.h-1 {
		s.flush()
	}
}

// flush writes the current block row to the output and starts the next.
func (s *boxSink) flush() {
	if s.rows == 0 || s.oy >= s.out.Rect.Dy() {
		return
	}
	pix := s.out.Pix[s.oy*s.out.Stride:]
	for bx := 0; bx < s.out.Rect.Dx(); bx++ {
		n := uint64(min(s.kx, s.w-bx*s.kx) * s.rows)
		r, g, b, a := s.acc[4*bx], s.acc[4*bx+1], s.acc[4*bx+2], s.acc[4*bx+3]
		o := pix[4*bx : 4*bx+4 : 4*bx+4]
		if a == 0 {
			o[0], o[1], o[2], o[3] = 0, 0, 0, 0
		} else {
			o[0] = uint8((r + a/2) / a)
			o[1] = uint8((g + a/2) / a)
			o[2] = uint8((b + a/2) / a)
			o[3] = uint8((a + n/2) / n)
		}
		s.acc[4*bx], s.acc[4*bx+1], s.acc[4*bx+2], s.acc[4*bx+3] = 0, 0, 0, 0
	}
	s.rows = 0
	s.oy++
}

// rowRGB folds a row of opaque 8-bit RGB straight from the decoder,
// skipping the conversion to NRGBA: the common case of photographs.
func (s *boxSink) rowRGB(y int, p []byte) {
	acc := s.acc
	kx := s.kx
	for bx, x0 := 0, 0; x0 < s.w; bx, x0 = bx+1, x0+kx {
		var r, g, b uint64
		end := min(x0+kx, s.w) * 3
		for i := x0 * 3; i < end; i += 3 {
			q := p[i : i+3 : i+3]
			r += uint64(q[0])
			g += uint64(q[1])
			b += uint64(q[2])
		}
		n := uint64(min(x0+kx, s.w) - x0)
		acc[4*bx] += r * 255
		acc[4*bx+1] += g * 255
		acc[4*bx+2] += b * 255
		acc[4*bx+3] += n * 255
	}
	s.rows++
	if s.rows == s.ky || y == s.h-1 {
		s.flush()
	}
}
