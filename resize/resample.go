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

// resample scales img, whose cells stand for kx×ky pixels of an sw×sh
// source, to tw×th. Colour is weighted by alpha (premultiplied) from the
// first pass to the last, in float32, rounded once at the end. The
// vertical pass goes first: it runs over contiguous rows, so the slower
// gathering horizontal pass works on the fewer rows of the output.
func resample(img *image.NRGBA, sw, sh, kx, ky, tw, th int) *image.NRGBA {
	cw, ch := img.Rect.Dx(), img.Rect.Dy()
	if cw == tw && ch == th && kx == 1 && ky == 1 {
		return img
	}
	// Premultiplied float32 copy of the source.
	src := make([]float32, 4*cw*ch)
	parallel(ch, cw*ch >= 1<<16, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			premultiply(src[4*cw*y:4*cw*(y+1)], img.Pix[y*img.Stride:y*img.Stride+4*cw])
		}
	})
	// Vertical pass: th rows of cw pixels.
	mid := src
	if ch != th || ky != 1 {
		vts := taps(sh, ky, th)
		mid = make([]float32, 4*cw*th)
		parallel(th, cw*th >= 1<<14, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				acc := mid[4*cw*y : 4*cw*(y+1)]
				for _, w := range vts[y] {
					row := src[4*cw*int(w.index) : 4*cw*(int(w.index)+1)]
					row = row[:len(acc)]
					wt := w.weight
					for i, v := range row {
						acc[i] += v * wt
					}
				}
			}
		})
	}
	// Horizontal pass, rounding into NRGBA.
	out := image.NewNRGBA(image.Rect(0, 0, tw, th))
	var hts [][]tap
	if cw != tw || kx != 1 {
		hts = taps(sw, kx, tw)
	}
	parallel(th, cw*th >= 1<<14, func(y0, y1 int) {
		line := make([]float32, 4*tw)
		for y := y0; y < y1; y++ {
			row := mid[4*cw*y : 4*cw*(y+1)]
			if hts == nil {
				copy(line, row)
			} else {
				for x, t := range hts {
					var r, g, b, a float32
					for _, w := range t {
						i := 4 * int(w.index)
						s := row[i : i+4 : i+4]
						r += s[0] * w.weight
						g += s[1] * w.weight
						b += s[2] * w.weight
						a += s[3] * w.weight
					}
					d := line[4*x : 4*x+4 : 4*x+4]
					d[0], d[1], d[2], d[3] = r, g, b, a
				}
			}
			unpremultiply(out.Pix[y*out.Stride:y*out.Stride+4*tw], line)
		}
	})
	return out
}

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
