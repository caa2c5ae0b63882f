package resize

// rowSink receives a decoder's rows, top to bottom, each once.
type rowSink interface {
	// row takes source row y as 8-bit NRGBA.
	row(y int, p []byte)
	// rowRGB takes source row y as opaque 8-bit RGB: the common case of
	// photographs, without a conversion to NRGBA.
	rowRGB(y int, p []byte)
	// rowGray takes source row y as opaque 8-bit grey.
	rowGray(y int, p []byte)
}

// shrinkFactor is how much wider than the thumbnail the shrink-on-load
// step leaves the image for the Lanczos filter: enough that the box
// average does not show.
const shrinkFactor = 3

// minCells is the fewest cells per axis the shrink leaves, so that tiny
// thumbnails still see the whole picture's detail.
const minCells = 48

// shrinkOnLoad is the box a source of sw×sh is shrunk by on load for a
// thumbnail of tw×th: 1×1 when it is not much larger.
func shrinkOnLoad(sw, sh, tw, th int) (kx, ky int) {
	return max(sw/max(shrinkFactor*tw, minCells), 1), max(sh/max(shrinkFactor*th, minCells), 1)
}

// newPipeline returns where the rows of an sw×sh source go to become a
// tw×th thumbnail: shrunk on load when the source is much larger, then
// resampled as they arrive. The reducer holds the result.
func newPipeline(sw, sh, tw, th int) (rowSink, *reducer) {
	kx, ky := shrinkOnLoad(sw, sh, tw, th)
	r := newReducer(sw, sh, kx, ky, tw, th, true)
	if kx == 1 && ky == 1 {
		return r, r
	}
	return newBoxSink(sw, sh, kx, ky, r), r
}

// boxSink shrinks on load: it averages kx×ky blocks of source pixels as the
// rows arrive, weighting colour by alpha as imaging does, and hands each
// finished row of blocks on. Blocks at the right and bottom edges may be
// smaller. It holds one row of sums.
type boxSink struct {
	w, h   int
	kx, ky int
	acc    []uint64 // per output column: alpha-weighted r, g, b, and a
	rows   int      // source rows in the current block
	cells  []byte   // the finished row of blocks, NRGBA
	next   rowSink
	oy     int
}

func newBoxSink(w, h, kx, ky int, next rowSink) *boxSink {
	rw := (w + kx - 1) / kx
	return &boxSink{w: w, h: h, kx: kx, ky: ky, acc: make([]uint64, 4*rw), cells: make([]byte, 4*rw), next: next}
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

// rowRGB folds a row of opaque 8-bit RGB straight from the decoder.
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

// rowGray folds a row of opaque 8-bit grey.
func (s *boxSink) rowGray(y int, p []byte) {
	acc := s.acc
	kx := s.kx
	for bx, x0 := 0, 0; x0 < s.w; bx, x0 = bx+1, x0+kx {
		var v uint64
		end := min(x0+kx, s.w)
		for _, q := range p[x0:end] {
			v += uint64(q)
		}
		n := uint64(end - x0)
		acc[4*bx] += v * 255
		acc[4*bx+1] += v * 255
		acc[4*bx+2] += v * 255
		acc[4*bx+3] += n * 255
	}
	s.rows++
	if s.rows == s.ky || y == s.h-1 {
		s.flush()
	}
}

// flush hands the current row of blocks (at least one source row) on and
// starts the next.
func (s *boxSink) flush() {
	for bx := range len(s.cells) / 4 {
		n := uint64(min(s.kx, s.w-bx*s.kx) * s.rows)
		r, g, b, a := s.acc[4*bx], s.acc[4*bx+1], s.acc[4*bx+2], s.acc[4*bx+3]
		o := s.cells[4*bx : 4*bx+4 : 4*bx+4]
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
	s.next.row(s.oy, s.cells)
	s.rows = 0
	s.oy++
}
