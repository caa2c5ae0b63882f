package resize

import (
	"image"
	"math"
	"sort"
)

// This file is the Lanczos step: imaging's filter (a=3, the same weights,
// colour weighted by alpha, horizontal then vertical, 8-bit NRGBA out)
// computed in the source's own coordinates, so it also works on rows that
// were shrunk on load, whose cells each stand for k source pixels (fewer
// at the right and bottom edges).
//
// It takes rows as they are decoded and runs the horizontal pass first, so
// what it keeps between rows is output-wide: the few output rows whose
// vertical window is still open, whatever the source's size. Memory is the
// output image plus a handful of output rows.

// lanczos3 is imaging's Lanczos kernel.
func lanczos3(x float64) float64 {
	x = math.Abs(x)
	if x >= 3 {
		return 0
	}
	if x == 0 {
		return 1
	}
	px := math.Pi * x
	return 3 * math.Sin(px) * math.Sin(px/3) / (px * px)
}

// span is the run of consecutive cells one output sample weighs.
type span struct {
	first int
	w     []float32
}

func (s span) last() int { return s.first + len(s.w) - 1 }

// spans computes, for each of dst output samples along an axis of src
// source pixels held in cells of k pixels (cells = ceil(src/k)), the
// cells and weights that make it: imaging's weights, normalised over the
// cells that weigh. Both ends of the runs never go back as the output
// index grows.
func spans(src, k, dst int) []span {
	du := float64(src) / float64(dst)
	scale := max(du, 1)
	ru := math.Ceil(scale * 3)
	cells := (src + k - 1) / k
	out := make([]span, dst)
	wbuf := make([]float64, 0, int(2*ru/float64(k))+3)
	w32 := make([]float32, 0, dst*(int(2*ru/float64(k))+3))
	for v := range dst {
		center := (float64(v) + 0.5) * du // continuous source coordinate
		first := max(int(math.Floor((center-ru)/float64(k))), 0)
		last := min(int(math.Ceil((center+ru)/float64(k))), cells-1)
		var sum float64
		wbuf = wbuf[:0]
		for c := first; c <= last; c++ {
			lo, hi := c*k, min((c+1)*k, src)
			mid := float64(lo+hi) / 2
			w := lanczos3((mid-center)/scale) * float64(hi-lo)
			sum += w
			wbuf = append(wbuf, w)
		}
		start := len(w32)
		for _, w := range wbuf {
			// Rounded to float32 before and after normalising, as
			// thumbnails made before this code were.
			w = float64(float32(w))
			if sum != 0 {
				w /= sum
			}
			w32 = append(w32, float32(w))
		}
		out[v] = span{first, w32[start:len(w32):len(w32)]}
	}
	return out
}

// hconv weighs a premultiplied row of cells into len(sp) outputs, each
// rounded to 8-bit NRGBA and premultiplied again: imaging keeps its
// horizontal pass in an 8-bit image, clamped, and thumbnails are measured
// against imaging's.
func hconv(dst, row []float32, sp []span) {
	hsum(dst, row, sp)
	for x := range len(sp) {
		d := dst[4*x : 4*x+4 : 4*x+4]
		a := d[3]
		if a8 := clamp8(a); a8 == 0 {
			d[0], d[1], d[2], d[3] = 0, 0, 0, 0
		} else {
			f := 255 / a
			qa := float32(a8)
			m := qa / 255
			d[0], d[1], d[2], d[3] = float32(clamp8(d[0]*f))*m, float32(clamp8(d[1]*f))*m, float32(clamp8(d[2]*f))*m, qa
		}
	}
}

// hsum weighs a premultiplied row of cells into len(sp) outputs. For a
// pass of an interlaced image, whose sums are partial, it is all of the
// horizontal pass.
func hsum(dst, row []float32, sp []span) {
	for x, s := range sp {
		src := row[4*s.first : 4*(s.first+len(s.w))]
		var r, g, b, a float32
		for j, wt := range s.w {
			q := src[4*j : 4*j+4 : 4*j+4]
			r += q[0] * wt
			g += q[1] * wt
			b += q[2] * wt
			a += q[3] * wt
		}
		d := dst[4*x : 4*x+4 : 4*x+4]
		d[0], d[1], d[2], d[3] = r, g, b, a
	}
}

// reducer resamples an image to tw×th as its rows arrive. Rows come as
// cells of kx×ky source pixels of an sw×sh source: cw×ch cells.
//
// In order (a plain decode), it keeps only the output rows whose window is
// open. Out of order (the passes of an interlaced image), it keeps an
// accumulator for every output row: output-sized, never source-sized.
type reducer struct {
	cw, ch  int
	tw, th  int
	hs, vs  []span
	prem    []float32 // the cell row, premultiplied
	h       []float32 // the row after the horizontal pass
	acc     [][]float32
	ordered bool
	// identity: the output is the source, rows are copied as they come.
	identity bool
	lo       int // ordered: the first output row not yet written
	next     int // ordered: the cell row expected next
	out      *image.NRGBA
	// Out of order: the horizontal spans of each pass's columns.
	passSpans map[[2]int][]span
}

// newReducer resamples an sw×sh source, seen as cells of kx×ky pixels, to
// tw×th. ordered says the cell rows arrive top to bottom, each once.
func newReducer(sw, sh, kx, ky, tw, th int, ordered bool) *reducer {
	r := &reducer{
		cw: (sw + kx - 1) / kx, ch: (sh + ky - 1) / ky,
		tw: tw, th: th,
		hs: spans(sw, kx, tw), vs: spans(sh, ky, th),
		ordered: ordered,
		out:     image.NewNRGBA(image.Rect(0, 0, tw, th)),
	}
	if r.identity = kx == 1 && ky == 1 && sw == tw && sh == th; r.identity {
		return r
	}
	r.prem = make([]float32, 4*r.cw)
	r.h = make([]float32, 4*tw)
	n := th
	if ordered {
		n = r.window()
	}
	r.acc = make([][]float32, n)
	for i := range r.acc {
		r.acc[i] = make([]float32, 4*tw)
	}
	return r
}

// window is the most output rows open at once while rows arrive in order.
func (r *reducer) window() int {
	most, lo, hi := 1, 0, 0
	for c := range r.ch {
		for hi < r.th && r.vs[hi].first <= c {
			hi++
		}
		for lo < hi && r.vs[lo].last() < c {
			lo++
		}
		most = max(most, hi-lo)
	}
	return most
}

// row takes cell row y as 8-bit NRGBA.
func (r *reducer) row(y int, p []byte) {
	if r.identity {
		copy(r.out.Pix[y*r.out.Stride:], p[:4*r.cw])
		return
	}
	premultiply(r.prem, p[:4*r.cw])
	hconv(r.h, r.prem, r.hs)
	r.add(y, r.h)
}

// rowRGB takes cell row y as opaque 8-bit RGB.
func (r *reducer) rowRGB(y int, p []byte) {
	if r.identity {
		o := r.out.Pix[y*r.out.Stride:]
		for x := range r.cw {
			o[4*x], o[4*x+1], o[4*x+2], o[4*x+3] = p[3*x], p[3*x+1], p[3*x+2], 255
		}
		return
	}
	d := r.prem
	for x := range r.cw {
		q := p[3*x : 3*x+3 : 3*x+3]
		o := d[4*x : 4*x+4 : 4*x+4]
		o[0], o[1], o[2], o[3] = float32(q[0]), float32(q[1]), float32(q[2]), 255
	}
	hconv(r.h, r.prem, r.hs)
	r.add(y, r.h)
}

// rowGray takes cell row y as opaque 8-bit grey.
func (r *reducer) rowGray(y int, p []byte) {
	if r.identity {
		o := r.out.Pix[y*r.out.Stride:]
		for x := range r.cw {
			v := p[x]
			o[4*x], o[4*x+1], o[4*x+2], o[4*x+3] = v, v, v, 255
		}
		return
	}
	d := r.prem
	for x := range r.cw {
		v := float32(p[x])
		o := d[4*x : 4*x+4 : 4*x+4]
		o[0], o[1], o[2], o[3] = v, v, v, 255
	}
	hconv(r.h, r.prem, r.hs)
	r.add(y, r.h)
}

// passRow takes the pixels of source row y at columns x0, x0+dx, ...
// (a pass of an interlaced image) as 8-bit NRGBA. The reducer must be out
// of order, with cells of one pixel.
func (r *reducer) passRow(y int, p []byte, x0, dx int) {
	key := [2]int{x0, dx}
	sp, ok := r.passSpans[key]
	if !ok {
		sp = passSpans(r.hs, x0, dx, (r.cw-x0+dx-1)/dx)
		if r.passSpans == nil {
			r.passSpans = map[[2]int][]span{}
		}
		r.passSpans[key] = sp
	}
	n := len(p) / 4
	if r.identity {
		o := r.out.Pix[y*r.out.Stride:]
		for i := range n {
			copy(o[4*(x0+i*dx):4*(x0+i*dx)+4], p[4*i:4*i+4])
		}
		return
	}
	premultiply(r.prem[:4*n], p[:4*n])
	hsum(r.h, r.prem[:4*n], sp)
	r.add(y, r.h)
}

// passSpans restricts spans over every column to the n columns x0 + i*dx.
func passSpans(hs []span, x0, dx, n int) []span {
	out := make([]span, len(hs))
	for u, s := range hs {
		first := max(0, (s.first-x0+dx-1)/dx)
		var w []float32
		for i := first; i < n && x0+i*dx <= s.last(); i++ {
			w = append(w, s.w[x0+i*dx-s.first])
		}
		out[u] = span{first, w}
	}
	return out
}

// add weighs a horizontally filtered row into the output rows it belongs
// to, and writes those it completes.
func (r *reducer) add(y int, h []float32) {
	if !r.ordered {
		lo := sort.Search(r.th, func(v int) bool { return r.vs[v].last() >= y })
		for v := lo; v < r.th && r.vs[v].first <= y; v++ {
			weigh(r.acc[v], h, r.vs[v].w[y-r.vs[v].first])
		}
		return
	}
	if y != r.next {
		return // a decoder's duplicate or stray row: the first one counts
	}
	r.next++
	n := len(r.acc)
	for v := r.lo; v < r.th && r.vs[v].first <= y; v++ {
		if j := y - r.vs[v].first; j < len(r.vs[v].w) {
			weigh(r.acc[v%n], h, r.vs[v].w[j])
		}
	}
	for r.lo < r.th && r.vs[r.lo].last() <= y {
		r.emit(r.lo, r.acc[r.lo%n])
		r.lo++
	}
}

func weigh(acc, h []float32, wt float32) {
	if wt == 0 {
		return
	}
	h = h[:len(acc)]
	for i, x := range h {
		acc[i] += x * wt
	}
}

// emit rounds output row v into the image and clears its accumulator.
func (r *reducer) emit(v int, acc []float32) {
	unpremultiply(r.out.Pix[v*r.out.Stride:v*r.out.Stride+4*r.tw], acc)
	clear(acc)
}

// finish writes the rows not yet written and returns the image.
func (r *reducer) finish() *image.NRGBA {
	if r.identity {
		return r.out
	}
	if !r.ordered {
		for v := range r.th {
			r.emit(v, r.acc[v])
		}
		r.acc = nil
		return r.out
	}
	for ; r.lo < r.th; r.lo++ {
		r.emit(r.lo, r.acc[r.lo%len(r.acc)])
	}
	return r.out
}

func clamp8(v float32) uint8 {
	switch {
	case v >= 254.5:
		return 255
	case v <= 0:
		return 0
	}
	return uint8(v + 0.5)
}

// premultiply turns an NRGBA row into alpha-weighted float32 values.
func premultiply(dst []float32, src []byte) {
	dst = dst[:len(src)]
	for i := 0; i+3 < len(src); i += 4 {
		a := float32(src[i+3])
		d := dst[i : i+4 : i+4]
		if a == 255 {
			d[0], d[1], d[2], d[3] = float32(src[i]), float32(src[i+1]), float32(src[i+2]), 255
			continue
		}
		f := a / 255
		d[0], d[1], d[2], d[3] = float32(src[i])*f, float32(src[i+1])*f, float32(src[i+2])*f, a
	}
}

// unpremultiply rounds alpha-weighted float32 values to an NRGBA row.
func unpremultiply(dst []byte, src []float32) {
	for i := 0; i+3 < len(src); i += 4 {
		s := src[i : i+4 : i+4]
		d := dst[i : i+4 : i+4]
		a := s[3]
		switch {
		case a <= 0:
			d[0], d[1], d[2], d[3] = 0, 0, 0, 0
			continue
		case a >= 254.5:
			d[0], d[1], d[2], d[3] = clamp8(s[0]), clamp8(s[1]), clamp8(s[2]), 255
			continue
		}
		f := 255 / a
		d[0], d[1], d[2], d[3] = clamp8(s[0]*f), clamp8(s[1]*f), clamp8(s[2]*f), clamp8(a)
	}
}
