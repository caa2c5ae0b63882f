package resize

import (
	"math"
	"sync/atomic"
)

// jpegCheckRange, for the differential fuzz test, makes idct8 note in
// jpegRangeHit a block whose coefficients add up to more than 32-bit
// integer IDCTs can take without overflowing (valid 8-bit data stays far
// below): there two decoders may differ however right both are.
var (
	jpegCheckRange bool
	jpegRangeHit   atomic.Bool
)

// The inverse DCTs write 8/scale samples a side from one block of
// dequantised coefficients. Scale 1 is the accurate integer
// Loeffler-Ligtenberg-Moschytz transform (13-bit constants, two extra bits
// between passes), which lands within a unit of image/jpeg's. Scales 2 and
// 4 keep the top-left 4x4 or 2x2 coefficients and compute the mean of each
// 2x2 or 4x4 group of full-size samples those coefficients give, so a
// reduced decode matches a box-filtered full decode; scale 8 is DC/8.

const (
	idctBits  = 13
	idctPass1 = 2
)

// LLM constants, round(x * 2^13).
const (
	fix0_298631336 = 2446
	fix0_390180644 = 3196
	fix0_541196100 = 4433
	fix0_765366865 = 6270
	fix0_899976223 = 7373
	fix1_175875602 = 9633
	fix1_501321110 = 12299
	fix1_847759065 = 15137
	fix1_961570560 = 16069
	fix2_053119869 = 16819
	fix2_562915447 = 20995
	fix3_072711026 = 25172
)

func clampSample(v int32) byte {
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return byte(v)
}

// idct8 transforms blk (natural order, dequantised) into 8x8 samples at
// dst with the given stride, and clears blk for the next block. Both
// passes are written out in full: as a called function the 1-D transform
// cost a third more.
func idct8(blk *[64]int32, dst []byte, stride int) {
	if jpegCheckRange {
		var sum int64
		for _, v := range blk {
			sum += int64(max(v, -v))
		}
		if sum > 1<<13 {
			jpegRangeHit.Store(true)
		}
	}
	var ws [64]int32
	for col := range 8 {
		c := blk[col : col+57 : col+57]
		if c[8]|c[16]|c[24]|c[32]|c[40]|c[48]|c[56] == 0 {
			dc := c[0] << idctPass1
			ws[col], ws[8+col], ws[16+col], ws[24+col] = dc, dc, dc, dc
			ws[32+col], ws[40+col], ws[48+col], ws[56+col] = dc, dc, dc, dc
			continue
		}
		// Even part.
		z1 := (c[16] + c[48]) * fix0_541196100
		t2 := z1 - c[48]*fix1_847759065
		t3 := z1 + c[16]*fix0_765366865
		t0 := (c[0] + c[32]) << idctBits
		t1 := (c[0] - c[32]) << idctBits
		t10, t13 := t0+t3, t0-t3
		t11, t12 := t1+t2, t1-t2
		// Odd part.
		a0, a1, a2, a3 := c[56], c[40], c[24], c[8]
		z1 = a0 + a3
		z2 := a1 + a2
		z3 := a0 + a2
		z4 := a1 + a3
		z5 := (z3 + z4) * fix1_175875602
		a0 *= fix0_298631336
		a1 *= fix2_053119869
		a2 *= fix3_072711026
		a3 *= fix1_501321110
		z1 *= -fix0_899976223
		z2 *= -fix2_562915447
		z3 = z3*-fix1_961570560 + z5
		z4 = z4*-fix0_390180644 + z5
		a0 += z1 + z3
		a1 += z2 + z4
		a2 += z2 + z3
		a3 += z1 + z4
		const round, shift = 1 << (idctBits - idctPass1 - 1), idctBits - idctPass1
		ws[col] = (t10 + a3 + round) >> shift
		ws[56+col] = (t10 - a3 + round) >> shift
		ws[8+col] = (t11 + a2 + round) >> shift
		ws[48+col] = (t11 - a2 + round) >> shift
		ws[16+col] = (t12 + a1 + round) >> shift
		ws[40+col] = (t12 - a1 + round) >> shift
		ws[24+col] = (t13 + a0 + round) >> shift
		ws[32+col] = (t13 - a0 + round) >> shift
	}
	*blk = [64]int32{}
	for r := range 8 {
		w := ws[8*r : 8*r+8 : 8*r+8]
		out := dst[r*stride : r*stride+8 : r*stride+8]
		if w[1]|w[2]|w[3]|w[4]|w[5]|w[6]|w[7] == 0 {
			v := clampSample((w[0]+1<<(idctPass1+2))>>(idctPass1+3) + 128)
			out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7] = v, v, v, v, v, v, v, v
			continue
		}
		// The +128 level shift rides in the rounding constant.
		const round, shift = 1<<(idctBits+idctPass1+2) + 128<<(idctBits+idctPass1+3), idctBits + idctPass1 + 3
		z1 := (w[2] + w[6]) * fix0_541196100
		t2 := z1 - w[6]*fix1_847759065
		t3 := z1 + w[2]*fix0_765366865
		t0 := (w[0]+w[4])<<idctBits + round
		t1 := (w[0]-w[4])<<idctBits + round
		t10, t13 := t0+t3, t0-t3
		t11, t12 := t1+t2, t1-t2
		a0, a1, a2, a3 := w[7], w[5], w[3], w[1]
		z1 = a0 + a3
		z2 := a1 + a2
		z3 := a0 + a2
		z4 := a1 + a3
		z5 := (z3 + z4) * fix1_175875602
		a0 *= fix0_298631336
		a1 *= fix2_053119869
		a2 *= fix3_072711026
		a3 *= fix1_501321110
		z1 *= -fix0_899976223
		z2 *= -fix2_562915447
		z3 = z3*-fix1_961570560 + z5
		z4 = z4*-fix0_390180644 + z5
		a0 += z1 + z3
		a1 += z2 + z4
		a2 += z2 + z3
		a3 += z1 + z4
		out[0] = clampSample((t10 + a3) >> shift)
		out[7] = clampSample((t10 - a3) >> shift)
		out[1] = clampSample((t11 + a2) >> shift)
		out[6] = clampSample((t11 - a2) >> shift)
		out[2] = clampSample((t12 + a1) >> shift)
		out[5] = clampSample((t12 - a1) >> shift)
		out[3] = clampSample((t13 + a0) >> shift)
		out[4] = clampSample((t13 - a0) >> shift)
	}
}

// idctW[s][u][m] is the weight of coefficient u for reduced sample m, for
// 4 (s=0) and 2 (s=1) samples a side: C(u)/2 times the mean over that
// sample's group of cos((2x+1)u*pi/16), in units of 2^12.
var idctW = func() (w [2][4][4]int32) {
	for s, n := range []int{4, 2} {
		g := 8 / n
		for u := range n {
			cu := 1.0
			if u == 0 {
				cu = 1 / math.Sqrt2
			}
			for m := range n {
				sum := 0.0
				for x := m * g; x < (m+1)*g; x++ {
					sum += math.Cos(float64(2*x+1) * float64(u) * math.Pi / 16)
				}
				w[s][u][m] = int32(math.Round(cu / 2 * sum / float64(g) * (1 << 12)))
			}
		}
	}
	return w
}()

// idct4 writes 4x4 samples from the top-left 4x4 coefficients of blk
// (zigzag order, dequantised) and clears what it read.
func idct4(blk *[64]int32, dst []byte, stride int) {
	// Natural (v, u) for v, u < 4 in zigzag order.
	var f [4][4]int32
	for k, z := range jpegZigzag[:25] {
		if r, c := z>>3, z&7; r < 4 && c < 4 {
			f[r][c] = blk[k]
		}
	}
	clear(blk[:25])
	w := &idctW[0]
	var t [4][4]int32 // t[v][m]: rows transformed
	for v := range 4 {
		fv := &f[v]
		if fv[0]|fv[1]|fv[2]|fv[3] == 0 {
			continue
		}
		for m := range 4 {
			s := fv[0]*w[0][m] + fv[1]*w[1][m] + fv[2]*w[2][m] + fv[3]*w[3][m]
			t[v][m] = (s + 1<<7) >> 8
		}
	}
	for n := range 4 {
		out := dst[n*stride : n*stride+4 : n*stride+4]
		for m := range out {
			s := t[0][m]*w[0][n] + t[1][m]*w[1][n] + t[2][m]*w[2][n] + t[3][m]*w[3][n]
			out[m] = clampSample((s+1<<15)>>16 + 128)
		}
	}
}

// idct2 writes 2x2 samples from coefficients (0,0), (0,1), (1,0), (1,1),
// zigzag 0, 1, 2 and 4, and clears blk[:5].
func idct2(blk *[64]int32, dst []byte, stride int) {
	f00, f01, f10, f11 := blk[0], blk[1], blk[2], blk[4]
	clear(blk[:5])
	w := &idctW[1]
	for n := range 2 {
		t0 := (f00*w[0][0] + f01*w[1][0] + 1<<7) >> 8
		t1 := (f00*w[0][1] + f01*w[1][1] + 1<<7) >> 8
		u0 := (f10*w[0][0] + f11*w[1][0] + 1<<7) >> 8
		u1 := (f10*w[0][1] + f11*w[1][1] + 1<<7) >> 8
		out := dst[n*stride : n*stride+2 : n*stride+2]
		out[0] = clampSample((t0*w[0][n]+u0*w[1][n]+1<<15)>>16 + 128)
		out[1] = clampSample((t1*w[0][n]+u1*w[1][n]+1<<15)>>16 + 128)
	}
}

// idct1 is the DC alone: the block's mean.
func idct1(blk *[64]int32) byte {
	v := blk[0]
	blk[0] = 0
	return clampSample((v+4)>>3 + 128)
}
