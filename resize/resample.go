package resize

import (
	"image"
	"math"
	"runtime"
	"sync"
)

// This file is the Lanczos step: imaging's filter (a=3, the same weights,
// colour weighted by alpha, horizontal then vertical through 8-bit NRGBA)
// computed in the source's own coordinates, so it also works on the
// box-shrunk image, whose cells each stand for k source pixels (fewer at
// the right and bottom edges).

// tap is one weight of an output sample.
type tap struct {
	index  int32
	weight float32
}

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

// taps computes, for each of dst output samples along an axis of src
// source pixels held in cells of k pixels (cells = ceil(src/k)), the cells
// and weights that make it.
func taps(src, k, dst int) [][]tap {
	du := float64(src) / float64(dst)
	scale := max(du, 1)
	ru := math.Ceil(scale * 3)
	cells := (src + k - 1) / k
	out := make([][]tap, dst)
	buf := make([]tap, 0, dst*(int(2*ru/float64(k))+3))
	for v := range dst {
		center := (float64(v) + 0.5) * du // continuous source coordinate
		first := max(int(math.Floor((center-ru)/float64(k))), 0)
		last := min(int(math.Ceil((center+ru)/float64(k))), cells-1)
		var sum float64
		start := len(buf)
		for c := first; c <= last; c++ {
			lo, hi := c*k, min((c+1)*k, src)
			mid := float64(lo+hi) / 2
			w := lanczos3((mid-center)/scale) * float64(hi-lo)
			if w != 0 {
				sum += w
				buf = append(buf, tap{int32(c), float32(w)})
			}
		}
		ts := buf[start:]
		if sum != 0 {
			for i := range ts {
				ts[i].weight = float32(float64(ts[i].weight) / sum)
			}
		}
		out[v] = ts
	}
	return out
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

// span is the run of consecutive cells one output sample weighs.
type span struct {
	first int
	w     []float32
}

func spans(ts [][]tap) []span {
	out := make([]span, len(ts))
	for i, t := range ts {
		if len(t) == 0 {
			continue
		}
		first, last := int(t[0].index), int(t[len(t)-1].index)
		w := make([]float32, last-first+1)
		for _, tp := range t {
			w[int(tp.index)-first] = tp.weight
		}
		out[i] = span{first, w}
	}
	return out
}

// hconv weighs a premultiplied row into tw outputs.
func hconv(dst, row []float32, sp []span) {
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

// resample scales img, whose cells stand for kx×ky pixels of an sw×sh
// source, to tw×th. Colour is weighted by alpha (premultiplied) from the
// first pass to the last, in float32, rounded once at the end. Both passes
// run on two cores when the image is large enough.
func resample(img *image.NRGBA, sw, sh, kx, ky, tw, th int) *image.NRGBA {
	cw, ch := img.Rect.Dx(), img.Rect.Dy()
	if cw == tw && ch == th && kx == 1 && ky == 1 {
		return img
	}
	hs := spans(taps(sw, kx, tw))
	// Horizontal pass: ch rows of tw premultiplied pixels. Every value is
	// written, so a reused buffer needs no clearing.
	mid := getFloats(4 * tw * ch)
	defer putFloats(mid)
	parallel(ch, cw*ch >= 1<<15, func(y0, y1 int) {
		row := getFloats(4 * cw)
		defer putFloats(row)
		for y := y0; y < y1; y++ {
			premultiply(row, img.Pix[y*img.Stride:y*img.Stride+4*cw])
			hconv(mid[4*tw*y:4*tw*(y+1)], row, hs)
		}
	})
	// Vertical pass, contiguous rows, rounding into NRGBA.
	vs := spans(taps(sh, ky, th))
	out := image.NewNRGBA(image.Rect(0, 0, tw, th))
	parallel(th, tw*ch >= 1<<14, func(y0, y1 int) {
		acc := getFloats(4 * tw)
		defer putFloats(acc)
		for y := y0; y < y1; y++ {
			clear(acc)
			s := vs[y]
			for j, wt := range s.w {
				src := mid[4*tw*(s.first+j) : 4*tw*(s.first+j+1)]
				src = src[:len(acc)]
				for i, v := range src {
					acc[i] += v * wt
				}
			}
			unpremultiply(out.Pix[y*out.Stride:y*out.Stride+4*tw], acc)
		}
	})
	return out
}

// floatPool keeps the resampler's buffers between calls (hot processes
// and the local server make many thumbnails).
var floatPool sync.Pool

func getFloats(n int) []float32 {
	if p, ok := floatPool.Get().(*[]float32); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]float32, n)
}

func putFloats(b []float32) { floatPool.Put(&b) }

// parallel runs f over [0, n) in two halves on two cores when big is set
// and there are two, else in one go.
func parallel(n int, big bool, f func(lo, hi int)) {
	if !big || n < 2 || runtime.GOMAXPROCS(0) < 2 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { f(0, n/2) })
	f(n/2, n)
	wg.Wait()
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
