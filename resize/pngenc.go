package resize

import (
	"compress/flate"
	"context"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"image"
	"io"
	"math"
	"math/bits"
	"slices"
	"sync"

	kflate "github.com/klauspost/compress/flate"
)

// encodePNG writes img (the thumbnail, 8-bit non-premultiplied RGBA) as a PNG.
//
// The file decodes to exactly img's pixels, but is stored in the smallest
// lossless layout the pixels allow (RGB when opaque, grey when colourless,
// a palette of 1 to 8 bits when they have at most 256 colours). Images of
// up to a megapixel are tried several ways and the smallest kept; larger
// ones are written in one pass whose effort is chosen from a sample.
//
// Thumbnails are made once and served many times, so it trades time for
// bytes. On the bench images' 180 and 400 px thumbnails its files are 16
// to 33% smaller than image/png's at BestSpeed and 6 to 19% smaller than
// libvips' (pngsave, zlib level 9, all filters), and take 9 to 90 ms
// against 2 to 13 ms (BenchmarkEncodePNG, TestEncodePNGAgainstVips).
//
// It stops when ctx ends: between strategies, and between rows of a large
// image.
func encodePNG(ctx context.Context, img *image.NRGBA) ([]byte, error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("resize: encode png: empty %dx%d image", w, h)
	}
	if w > maxSide || h > maxSide {
		return nil, fmt.Errorf("resize: encode png: %dx%d: a side is longer than %d pixels", w, h, maxSide)
	}
	ls := analyze(img)
	var out []byte
	if w*h > searchPixels {
		out = encodeLarge(ctx, img, &ls[0])
	} else {
		out = encodeSearch(ctx, img, ls)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// searchPixels is the largest image encodeSearch tries several ways.
const searchPixels = 1 << 20

// layout is how the pixels are stored in the file: colour type, bits per
// sample and, for a palette, the colours.
type layout struct {
	colorType uint8
	depth     uint8     // bits per sample: 1, 2, 4 or 8
	palette   []uint32  // NRGBA as 0xRRGGBBAA, translucent entries first
	index     *colorSet // palette index of each colour
}

// channels is the number of samples per pixel.
func (l *layout) channels() int {
	switch l.colorType {
	case ctTrueColor:
		return 3
	case ctGrayAlpha:
		return 2
	case ctRGBA:
		return 4
	}
	return 1
}

// bpp is the filters' pixel distance in bytes: one for depths under 8.
func (l *layout) bpp() int { return max(l.channels()*int(l.depth)/8, 1) }

// rowBytes is the length of a packed row, without its filter byte.
func (l *layout) rowBytes(w int) int { return (w*l.channels()*int(l.depth) + 7) / 8 }

// pack writes a row of NRGBA pixels in the layout.
func (l *layout) pack(dst, src []byte) {
	switch l.colorType {
	case ctRGBA:
		copy(dst, src)
	case ctTrueColor:
		dst = dst[:len(src)/4*3]
		for i, j := 0, 0; j < len(dst); i, j = i+4, j+3 {
			dst[j], dst[j+1], dst[j+2] = src[i], src[i+1], src[i+2]
		}
	case ctGrayAlpha:
		dst = dst[:len(src)/2]
		for i, j := 0, 0; j < len(dst); i, j = i+4, j+2 {
			dst[j], dst[j+1] = src[i], src[i+3]
		}
	case ctGray:
		if l.depth == 8 {
			dst = dst[:len(src)/4]
			for i := range dst {
				dst[i] = src[4*i]
			}
			return
		}
		// Sub-byte greys are exact multiples of 255/(2^depth-1).
		scale := byte(255 / (1<<l.depth - 1))
		packBits(dst, src, l.depth, func(p []byte) byte { return p[0] / scale })
	case ctPaletted:
		if l.depth == 8 {
			dst = dst[:len(src)/4]
			for i := range dst {
				dst[i] = l.index.lookup(binary.BigEndian.Uint32(src[4*i:]))
			}
			return
		}
		packBits(dst, src, l.depth, func(p []byte) byte { return l.index.lookup(binary.BigEndian.Uint32(p)) })
	}
}

// packBits packs one value per NRGBA pixel of src, depth bits each, the
// first pixel in the high bits; the last byte is padded with zeros.
func packBits(dst, src []byte, depth uint8, value func([]byte) byte) {
	per := 8 / int(depth)
	for i, j := 0, 0; i < len(src); j++ {
		var b byte
		n := 0
		for ; n < per && i < len(src); n, i = n+1, i+4 {
			b = b<<depth | value(src[i:i+4])
		}
		dst[j] = b << (uint(per-n) * uint(depth))
	}
}

// colorSet is an open-addressing hash set of NRGBA colours packed as
// 0xRRGGBBAA, with each one's palette index. It stops counting past 256
// colours: enough to tell that an image does not fit a palette.
type colorSet struct {
	slots [1024]uint64 // 1<<40 | index<<32 | colour; zero is empty
	n     int
}

func (s *colorSet) slot(c uint32) int {
	i := int((c * 0x9E3779B1) >> 22) // Fibonacci hashing to 10 bits
	for {
		e := s.slots[i]
		if e == 0 || uint32(e) == c {
			return i
		}
		i = (i + 1) & (len(s.slots) - 1)
	}
}

// add inserts c and reports whether the set still fits a palette.
func (s *colorSet) add(c uint32) bool {
	i := s.slot(c)
	if s.slots[i] == 0 {
		s.slots[i] = 1<<40 | uint64(c)
		s.n++
	}
	return s.n <= 256
}

func (s *colorSet) setIndex(c uint32, idx int) {
	s.slots[s.slot(c)] = 1<<40 | uint64(idx)<<32 | uint64(c)
}

func (s *colorSet) lookup(c uint32) byte { return byte(s.slots[s.slot(c)] >> 32) }

func (s *colorSet) colors() []uint32 {
	out := make([]uint32, 0, s.n)
	for _, e := range s.slots {
		if e != 0 {
			out = append(out, uint32(e))
		}
	}
	return out
}

// analyze reads the pixels once and lists the lossless layouts worth
// trying, the likeliest to be smallest first.
func analyze(img *image.NRGBA) []layout {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	opaque, grey, few := true, true, true
	set := new(colorSet)
	last := binary.BigEndian.Uint32(img.Pix) ^ 1 // differs from the first pixel
rows:
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for i := 0; i < len(row); i += 4 {
			c := binary.BigEndian.Uint32(row[i:])
			if c == last {
				continue
			}
			last = c
			opaque = opaque && byte(c) == 255
			grey = grey && c>>24 == c>>16&0xff && c>>16&0xff == c>>8&0xff
			if few {
				few = set.add(c)
			}
			if !few && !opaque && !grey {
				break rows
			}
		}
	}
	var pal []layout
	if few {
		pal = append(pal, paletteLayout(set))
	}
	switch {
	case grey && opaque:
		// At most 256 levels, so the set is complete.
		g := layout{colorType: ctGray, depth: greyDepth(set.colors())}
		if g.depth <= pal[0].depth {
			// A palette as deep only adds a PLTE chunk and hides the
			// levels' order from the filters.
			return []layout{g}
		}
		return append(pal, g)
	case grey:
		return append(pal, layout{colorType: ctGrayAlpha, depth: 8})
	case opaque:
		return append(pal, layout{colorType: ctTrueColor, depth: 8})
	}
	return append(pal, layout{colorType: ctRGBA, depth: 8})
}

// greyDepth is the fewest bits that hold every grey level exactly.
func greyDepth(cs []uint32) uint8 {
	for _, d := range []uint8{1, 2, 4} {
		scale := uint32(255 / (1<<d - 1))
		exact := true
		for _, c := range cs {
			exact = exact && (c>>24)%scale == 0
		}
		if exact {
			return d
		}
	}
	return 8
}

// paletteLayout orders the colours, translucent ones first so that tRNS
// stays short, then by luminance, which gives the filters something to
// predict, and picks the smallest bit depth.
func paletteLayout(set *colorSet) layout {
	cs := set.colors()
	luma := func(c uint32) int { return int(299*(c>>24) + 587*(c>>16&0xff) + 114*(c>>8&0xff)) }
	slices.SortFunc(cs, func(a, b uint32) int {
		if ta, tb := byte(a) != 255, byte(b) != 255; ta != tb {
			return boolBit(tb) - boolBit(ta)
		}
		if la, lb := luma(a), luma(b); la != lb {
			return la - lb
		}
		return int(int64(a) - int64(b))
	})
	for i, c := range cs {
		set.setIndex(c, i)
	}
	d := uint8(8)
	switch n := len(cs); {
	case n <= 2:
		d = 1
	case n <= 4:
		d = 2
	case n <= 16:
		d = 4
	}
	return layout{colorType: ctPaletted, depth: d, palette: cs, index: set}
}

func boolBit(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Filter strategies: one of the five PNG filter types (PNG spec, 9.2) on
// every row, or one chosen per row by a heuristic.
const (
	ftNone = iota
	ftSub
	ftUp
	ftAverage
	ftPaeth
	ftMinSum  // libpng's: least sum of the bytes' magnitudes, read as signed
	ftRunning // fewest bits added to an order-0 model of the recent rows
	ftBigrams // fewest distinct pairs of adjacent bytes
	numStrategies
)

// filterer turns NRGBA rows into filtered PNG rows.
type filterer struct {
	l         *layout
	bpp       int
	cur, prev []byte    // packed rows, filter byte excluded
	out       [5][]byte // the row under each filter, filter byte first
	hist      [256]int32
	run       [256]int32 // byte counts of the recent rows, halved as they age
	runTotal  int
	// plan holds, for each heuristic, the filter chosen for each row of
	// the image makePlan saw.
	plan [numStrategies - ftMinSum][]uint8
	// seen marks the byte pairs a row under test holds, a bit each: 8
	// KB, in the first-level cache.
	seen [1 << 16 / 64]uint64
}

// reset prepares f for an image w pixels wide in layout l.
func (f *filterer) reset(l *layout, w int) {
	n := l.rowBytes(w)
	f.l, f.bpp = l, l.bpp()
	f.cur, f.prev = grow(f.cur, n), grow(f.prev, n)
	clear(f.cur) // the row above the first, once next swaps them
	for i := range f.out {
		f.out[i] = grow(f.out[i], n+1)
		f.out[i][0] = byte(i)
	}
	clear(f.run[:])
	f.runTotal = 0
}

// grow returns b resized to n bytes, reallocated only when too small.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// next packs the next image row, src, keeping the previous one.
func (f *filterer) next(src []byte) {
	f.cur, f.prev = f.prev, f.cur
	f.l.pack(f.cur, src)
}

// all filters the current row with each of the five filters.
func (f *filterer) all() {
	for t := ftNone; t <= ftPaeth; t++ {
		applyFilter(f.out[t][1:], f.cur, f.prev, f.bpp, t)
	}
}

// minSum returns the filter libpng would choose for the current row, of
// those all computed.
func (f *filterer) minSum() int {
	best, bestScore := 0, math.MaxInt
	for t, o := range f.out {
		if s := absSum(o[1:], bestScore); s < bestScore {
			best, bestScore = t, s
		}
	}
	return best
}

// running returns the filter, of those all computed, whose row adds the
// fewest bits to the model of the recent rows, and adds that row to it.
func (f *filterer) running() int {
	best, bestScore := 0, float32(math.MaxFloat32)
	for t, o := range f.out {
		if s := f.added(o[1:]); s < bestScore {
			best, bestScore = t, s
		}
	}
	f.remember(f.out[best][1:])
	return best
}

// bigrams returns the filter, of those all computed, whose row holds the
// fewest distinct pairs of adjacent bytes: pairs that recur make LZ77
// matches. On anti-aliased drawings it makes level 9 files 10% smaller
// than ftMinSum does.
func (f *filterer) bigrams() int {
	best, bestScore := 0, math.MaxInt
	seen := &f.seen
	for t, o := range f.out {
		clear(seen[:])
		n, r := 0, o[1:]
		for i := 1; i < len(r); i++ {
			p := uint(r[i-1])<<8 | uint(r[i])
			if w, bit := &seen[p>>6], uint64(1)<<(p&63); *w&bit == 0 {
				*w |= bit
				n++
			}
		}
		if n < bestScore {
			best, bestScore = t, n
		}
	}
	return best
}

// row packs the next image row, src, and returns it filtered by strategy
// ft, filter byte first. The result is valid until the next call.
func (f *filterer) row(src []byte, ft int) []byte {
	f.next(src)
	if ft < ftMinSum {
		applyFilter(f.out[ft][1:], f.cur, f.prev, f.bpp, ft)
		return f.out[ft]
	}
	f.all()
	switch ft {
	case ftMinSum:
		return f.out[f.minSum()]
	case ftBigrams:
		return f.out[f.bigrams()]
	}
	return f.out[f.running()]
}

// makePlan runs the heuristics over img in layout l, for filterImage.
func (f *filterer) makePlan(img *image.NRGBA, l *layout) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	f.reset(l, w)
	for i := range f.plan {
		f.plan[i] = grow(f.plan[i], h)
	}
	for y := range h {
		f.next(img.Pix[y*img.Stride : y*img.Stride+4*w])
		f.all()
		f.plan[0][y] = uint8(f.minSum()) // ftMinSum
		f.plan[ftRunning-ftMinSum][y] = uint8(f.running())
		f.plan[ftBigrams-ftMinSum][y] = uint8(f.bigrams())
	}
}

// filterImage appends every row of img, filtered by strategy ft, to dst.
// For the heuristics, makePlan must have run on the same image and layout.
func (f *filterer) filterImage(dst []byte, img *image.NRGBA, l *layout, ft int) []byte {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	f.reset(l, w)
	for y := range h {
		f.next(img.Pix[y*img.Stride : y*img.Stride+4*w])
		t := ft
		if ft >= ftMinSum {
			t = int(f.plan[ft-ftMinSum][y])
		}
		applyFilter(f.out[t][1:], f.cur, f.prev, f.bpp, t)
		dst = append(dst, f.out[t]...)
	}
	return dst
}

// absSum is libpng's score: the sum of the bytes' magnitudes, read as
// signed. It stops early once past limit.
func absSum(b []byte, limit int) int {
	s := 0
	for len(b) >= 64 {
		for _, v := range b[:64] {
			s += abs(int(int8(v)))
		}
		if s > limit {
			return s
		}
		b = b[64:]
	}
	for _, v := range b {
		s += abs(int(int8(v)))
	}
	return s
}

// added scores b by the bits it adds to an order-0 code of the recent
// rows: the growth of n·H. Unlike the row's own entropy, it prefers rows
// that look like those before, which share their Huffman code.
func (f *filterer) added(b []byte) float32 {
	h := &f.hist
	clear(h[:])
	for _, v := range b {
		h[v]++
	}
	tab := xlog2x()
	xl := func(x int32) float32 {
		if int(x) < len(tab) {
			return tab[x]
		}
		return float32(float64(x) * math.Log2(float64(x))) // rows over 32 KB
	}
	n0 := int32(f.runTotal)
	e := xl(n0+int32(len(b))) - xl(n0)
	for v, c := range h {
		if c > 0 {
			r := f.run[v]
			e -= xl(r+c) - xl(r)
		}
	}
	return e
}

// runWindow is about how many recent bytes ftRunning's model stands for:
// a few of the literal coder's blocks.
const runWindow = 1 << 15

func (f *filterer) remember(b []byte) {
	for _, v := range b {
		f.run[v]++
	}
	f.runTotal += len(b)
	if f.runTotal > runWindow {
		f.runTotal = 0
		for i, c := range f.run {
			f.run[i] = c / 2
			f.runTotal += int(c / 2)
		}
	}
}

// applyFilter writes cur filtered with filter type t against prev, the
// row above (PNG spec, 9.2; filter method 0).
func applyFilter(dst, cur, prev []byte, bpp, t int) {
	n := len(cur)
	dst, prev = dst[:n], prev[:n]
	switch t {
	case ftNone:
		copy(dst, cur)
	case ftSub:
		copy(dst[:bpp], cur[:bpp])
		d, c, a := dst[bpp:], cur[bpp:], cur[:n-bpp]
		for i := range d {
			d[i] = c[i] - a[i]
		}
	case ftUp:
		for i := range dst {
			dst[i] = cur[i] - prev[i]
		}
	case ftAverage:
		for i := range bpp {
			dst[i] = cur[i] - prev[i]/2
		}
		d, c, a, b := dst[bpp:], cur[bpp:], cur[:n-bpp], prev[bpp:]
		for i := range d {
			d[i] = c[i] - byte((uint(a[i])+uint(b[i]))/2)
		}
	case ftPaeth:
		for i := range bpp {
			dst[i] = cur[i] - prev[i]
		}
		d, x, a, b, c := dst[bpp:], cur[bpp:], cur[:n-bpp], prev[bpp:], prev[:n-bpp]
		for i := range d {
			// The Paeth predictor, inlined: whichever of a (left), b
			// (above) and c (upper left) is closest to p = a+b-c, ties
			// going in that order.
			ia, ib, ic := int(a[i]), int(b[i]), int(c[i])
			pa, pb := ib-ic, ia-ic // p-a, p-b
			pc := abs(pa + pb)
			pa, pb = abs(pa), abs(pb)
			p := ic
			if pb <= pc {
				p = ib
			}
			if pa <= pb && pa <= pc {
				p = ia
			}
			d[i] = x[i] - byte(p)
		}
	}
}

// coder is a deflate encoder and its level.
type coder struct{ kind, level int }

const (
	coderLiteral   = iota // literalCoder: no LZ77, a Huffman code per small block
	coderStd              // compress/flate
	coderKlauspost        // github.com/klauspost/compress/flate
)

// Search effort, measured on the bench thumbnails (see BenchmarkEncodePNG
// and the comparison with libvips in pngenc_test.go).
var (
	// proxy ranks the filter strategies for LZ77: its sizes order them
	// much as the final coders' do, in a fraction of the time.
	proxy = coder{coderKlauspost, 5}
	// finals are the coders tried on the strategies proxy ranked first,
	// second and third, the last two only when within 3% of the first:
	// the ranking is then a toss-up, and neither library's level 9 beats
	// the other's on every image.
	finals = [3][]coder{{{coderStd, 9}, {coderKlauspost, 9}}, {{coderKlauspost, 9}}, {{coderKlauspost, 9}}}
	// Past searchRaw bytes of filtered rows, encodeSearch tries only
	// mediumStrategies, and the first-ranked with mediumFinal: level 9 on
	// a megapixel takes a few hundred milliseconds.
	mediumStrategies = []int{ftNone, ftMinSum, ftRunning, ftBigrams}
	mediumFinal      = coder{coderStd, 6}
)

// searchOrder is the order encodeSearch tries the strategies in.
var searchOrder = [numStrategies]int{ftRunning, ftNone, ftSub, ftUp, ftAverage, ftPaeth, ftMinSum, ftBigrams}

// photoStrategies are the only ones encodeSearch tries after ftRunning
// when the literal coder is over 12% ahead of its proxy, as on filtered
// photographs, where LZ77 seldom wins: on 13 photo thumbnails of 64 to
// 800 px, the best proxy after ftRunning's was one of these, or within
// 0.1% of one.
var photoStrategies = []int{ftUp, ftAverage, ftBigrams}

// searchRaw is the most filtered bytes encodeSearch tries with every
// strategy and the level 9 coders: a 512×512 RGBA image.
const searchRaw = 1 << 20

// searchState is encodeSearch's reusable memory.
type searchState struct {
	f         filterer
	lit       literalCoder
	data      []byte // the filtered image
	best, try []byte // zlib streams
}

var searchPool sync.Pool // of *searchState

// encodeSearch codes each layout with each filter strategy by a quick
// LZ77 pass, and with ftRunning by the literal coder; then codes the
// strategies the quick pass ranked first with the final coders, unless
// the literal coder is well ahead. It keeps the smallest.
func encodeSearch(ctx context.Context, img *image.NRGBA, ls []layout) []byte {
	st, _ := searchPool.Get().(*searchState)
	if st == nil {
		st = new(searchState)
	}
	defer searchPool.Put(st)
	w, h := img.Rect.Dx(), img.Rect.Dy()
	var bestL *layout
	keep := func(l *layout) {
		if bestL == nil || len(st.try) < len(st.best) {
			st.best, st.try = st.try, st.best
			bestL = l
		}
	}
	type ranked struct {
		l         *layout
		ft, proxy int
	}
	var cands []ranked
	lit := math.MaxInt / 2 // the literal coder's best
	for i := range ls {
		l := &ls[i]
		medium := (l.rowBytes(w)+1)*h > searchRaw
		st.f.makePlan(img, l)
		// ftRunning first: it decides whether the literal coder is worth
		// trying, and which other strategies are.
		photo := false
		for k, ft := range searchOrder {
			if ctx.Err() != nil {
				return nil
			}
			if medium && !slices.Contains(mediumStrategies, ft) ||
				photo && !slices.Contains(photoStrategies, ft) {
				continue
			}
			st.data = st.f.filterImage(st.data[:0], img, l, ft)
			st.try = zlibFlate(st.try[:0], st.data, proxy)
			p := len(st.try)
			cands = append(cands, ranked{l, ft, p})
			keep(l)
			if k > 0 {
				continue
			}
			// The literal coder's blocks beat the whole stream's order-0
			// entropy by a few percent at most: skip it when LZ77 is
			// far ahead.
			if p > order0(st.data)*4/5 {
				st.try = zlibLiteral(st.try[:0], st.data, &st.lit, st.lit.split(st.data))
				lit = min(lit, len(st.try))
				keep(l)
			}
			photo = p > lit+lit/8
		}
	}
	slices.SortStableFunc(cands, func(a, b ranked) int { return a.proxy - b.proxy })
	planned := &ls[len(ls)-1]
	for rank, c := range cands[:min(len(finals), len(cands))] {
		// On the photographs' thumbnails, LZ77 beat the literal coder
		// only when the proxy came within 2.3% of it: further behind
		// (the next was 3.6%), level 9 does not catch up.
		fs, lead := finals[rank], lit/32
		if (c.l.rowBytes(w)+1)*h > searchRaw {
			fs, lead = []coder{mediumFinal}, 0
			if rank > 0 {
				break
			}
		}
		if c.proxy > lit+lead {
			break
		}
		if rank > 0 && c.proxy > cands[0].proxy+cands[0].proxy/32 {
			break // the ranking is clear
		}
		if ctx.Err() != nil {
			return nil
		}
		if c.ft >= ftMinSum && c.l != planned {
			st.f.makePlan(img, c.l)
			planned = c.l
		}
		st.data = st.f.filterImage(st.data[:0], img, c.l, c.ft)
		for _, fc := range fs {
			st.try = zlibFlate(st.try[:0], st.data, fc)
			keep(c.l)
		}
	}
	out := make([]byte, 0, pngOverhead+len(st.best))
	return appendPNG(out, w, h, bestL, st.best)
}

// order0 is the size in bytes of data under an order-0 code of its own
// statistics.
func order0(data []byte) int {
	var hist [256]uint32
	for _, b := range data {
		hist[b]++
	}
	return order0Hist(&hist, len(data))
}

// order0Hist is order0 of n bytes counted in hist.
func order0Hist(hist *[256]uint32, n int) int {
	bits := float64(n) * math.Log2(float64(n))
	for _, c := range hist {
		if c > 1 {
			bits -= float64(c) * math.Log2(float64(c))
		}
	}
	return int(bits / 8)
}

// encodeLarge writes img in one pass: rows are filtered and compressed as
// they are read, with the strategy and coder a sample chose. Besides the
// output, allocated once at its worst case (see pngBound), memory is a few
// rows, the 128 KB sample, and the coder's state: the literal coder's 256
// KB window and its split's tables, or compress/flate's megabyte.
func encodeLarge(ctx context.Context, img *image.NRGBA, l *layout) []byte {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	st, _ := searchPool.Get().(*searchState)
	if st == nil {
		st = new(searchState)
	}
	defer searchPool.Put(st)
	ft, c := chooseLarge(img, l, st)
	raw := (l.rowBytes(w) + 1) * h
	out := make([]byte, 0, pngBound(raw))
	out = appendPNGHead(out, w, h, l)
	start := len(out)
	out = append(out, 0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x78, zlibFlag(c))
	a := adler32.New()
	st.f.reset(l, w)
	if c.kind == coderLiteral {
		st.lit.start(out)
		for y := range h {
			if y%batchRows == 0 && ctx.Err() != nil {
				st.lit.w.dst = nil
				return nil
			}
			r := st.f.row(img.Pix[y*img.Stride:y*img.Stride+4*w], ft)
			a.Write(r)
			st.lit.write(r)
		}
		out = st.lit.finish()
		st.lit.w.dst = nil
	} else {
		sw := &sliceWriter{b: out}
		z := getFlate(c, sw)
		for y := range h {
			if y%batchRows == 0 && ctx.Err() != nil {
				putFlate(c, z)
				return nil
			}
			r := st.f.row(img.Pix[y*img.Stride:y*img.Stride+4*w], ft)
			a.Write(r)
			z.Write(r)
		}
		z.Close()
		putFlate(c, z)
		out, sw.b = sw.b, nil
	}
	out = binary.BigEndian.AppendUint32(out, a.Sum32())
	binary.BigEndian.PutUint32(out[start:], uint32(len(out)-start-8))
	out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start+4:]))
	return appendChunk(out, "IEND", nil)
}

// largeLZ is encodeLarge's LZ77 coder: the effort that keeps a 2048×2048
// image well under a second.
var largeLZ = coder{coderStd, 6}

// chooseLarge filters a sample of img, four bands of rows spread over its
// height, a few ways and returns the strategy and coder that made it
// smallest. LZ77 must win by 1%: the literal coder is several times
// faster.
func chooseLarge(img *image.NRGBA, l *layout, st *searchState) (ft int, c coder) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	rows := max(2, (32<<10)/l.rowBytes(w))
	sample := func(ft int) []byte {
		st.data = st.data[:0]
		st.f.reset(l, w)
		for k := range 4 {
			y0 := max(h*(2*k+1)/8-rows/2, 0)
			for y := max(y0-1, 0); y < min(y0+rows, h); y++ {
				r := st.f.row(img.Pix[y*img.Stride:y*img.Stride+4*w], ft)
				if y >= y0 {
					st.data = append(st.data, r...)
				}
			}
		}
		return st.data
	}
	// The literal coder with no filter, which costs nothing, unless
	// ftRunning saves 0.5%: on noise, filters only take time.
	lit := math.MaxInt
	for _, t := range []int{ftNone, ftRunning} {
		data := sample(t)
		st.try = zlibLiteral(st.try[:0], data, &st.lit, st.lit.split(data))
		if n := len(st.try); n < lit-lit/200 {
			lit, ft = n, t
		}
	}
	c = coder{coderLiteral, 0}
	best := lit - lit/100
	for _, t := range []int{ftNone, ftMinSum, ftBigrams} {
		st.try = zlibFlate(st.try[:0], sample(t), largeLZ)
		if n := len(st.try); n < best {
			best, ft, c = n, t, largeLZ
		}
	}
	return ft, c
}

// pngOverhead is the most a PNG file adds to its zlib stream: signature,
// IHDR, PLTE and tRNS of 256 entries, IDAT's framing and IEND.
const pngOverhead = 8 + 25 + 12 + 3*256 + 12 + 256 + 12 + 12

// pngBound is the largest PNG of raw bytes of filtered rows. The literal
// coder stores a block rather than let it grow: at most 6 bytes more per
// 1024. compress/flate (levels 2 to 9) stores a block too when it still
// has the block's input in its window; when not, it codes it with
// Huffman codes, at worst 9 bits a byte (RFC 1951's fixed code for
// literals over 143), plus 3 bytes per block of at most 16384 tokens.
// For a 2048×2048 RGBA image, 16,779,264 bytes of rows, that is
// 18,880,861 bytes: 12.5% more than the rows.
func pngBound(raw int) int {
	return raw + raw/8 + 3*(raw/16384+2) + 6 + pngOverhead
}

// sliceWriter appends to a byte slice.
type sliceWriter struct{ b []byte }

func (s *sliceWriter) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// deflater is what both flate packages' writers do.
type deflater interface {
	io.WriteCloser
	Reset(io.Writer)
}

// flatePools hold flate writers by package and level: each holds about a
// megabyte of tables, worth reusing. Nothing is made before first use.
var flatePools [3][10]sync.Pool

func getFlate(c coder, w io.Writer) deflater {
	if z, ok := flatePools[c.kind][c.level].Get().(deflater); ok {
		z.Reset(w)
		return z
	}
	var z deflater
	var err error
	if c.kind == coderStd {
		z, err = flate.NewWriter(w, c.level)
	} else {
		z, err = kflate.NewWriter(w, c.level)
	}
	if err != nil {
		panic(err) // levels are constants
	}
	return z
}

func putFlate(c coder, z deflater) { flatePools[c.kind][c.level].Put(z) }

// zlibFlate appends data as a zlib stream (RFC 1950) coded by c.
func zlibFlate(dst, data []byte, c coder) []byte {
	sw := &sliceWriter{b: append(dst, 0x78, zlibFlag(c))}
	z := getFlate(c, sw)
	z.Write(data)
	z.Close()
	putFlate(c, z)
	dst, sw.b = sw.b, nil
	return binary.BigEndian.AppendUint32(dst, adler32.Checksum(data))
}

// zlibLiteral appends data as a zlib stream coded by the literal coder
// in blocks ending at ends.
func zlibLiteral(dst, data []byte, lc *literalCoder, ends []int) []byte {
	dst = lc.encodeSplit(append(dst, 0x78, zlibFlag(coder{coderLiteral, 0})), data, ends)
	lc.w.dst = nil
	return binary.BigEndian.AppendUint32(dst, adler32.Checksum(data))
}

// zlibFlag is the second byte of a zlib header: the level's class (RFC
// 1950 FLEVEL, informative only) and the check bits.
func zlibFlag(c coder) byte {
	switch {
	case c.level <= 1:
		return 0x01
	case c.level <= 5:
		return 0x5e
	case c.level == 6:
		return 0x9c
	}
	return 0xda
}

// appendPNGHead appends the signature and the chunks before IDAT.
func appendPNGHead(dst []byte, w, h int, l *layout) []byte {
	dst = append(dst, pngSignature...)
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = l.depth, l.colorType
	dst = appendChunk(dst, "IHDR", ihdr[:])
	if l.colorType == ctPaletted {
		var plte [3 * 256]byte
		var trns [256]byte
		nt := 0
		for i, c := range l.palette {
			plte[3*i], plte[3*i+1], plte[3*i+2] = byte(c>>24), byte(c>>16), byte(c>>8)
			if byte(c) != 255 {
				trns[i] = byte(c)
				nt = i + 1
			}
		}
		dst = appendChunk(dst, "PLTE", plte[:3*len(l.palette)])
		if nt > 0 {
			dst = appendChunk(dst, "tRNS", trns[:nt])
		}
	}
	return dst
}

// appendPNG appends a whole PNG file of zlib stream z.
func appendPNG(dst []byte, w, h int, l *layout, z []byte) []byte {
	dst = appendPNGHead(dst, w, h, l)
	dst = appendChunk(dst, "IDAT", z)
	return appendChunk(dst, "IEND", nil)
}

// appendChunk appends a PNG chunk: length, type, data, CRC.
func appendChunk(dst []byte, typ string, data []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(data)))
	start := len(dst)
	dst = append(dst, typ...)
	dst = append(dst, data...)
	return binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:]))
}

// This part is a deflate encoder (RFC 1951) that codes literals only, each
// block with its own Huffman code. Filtered photographs have few long
// repeats, and an LZ77 pass spends more on the short matches it finds
// than they save; small blocks follow the rows' changing statistics.

// huffCode is a canonical Huffman code: a length and a bit-reversed code
// per symbol.
type huffCode struct {
	lens  []uint8
	codes []uint16
}

// huffLengths sets lens[i] to the length of symbol i's code, no longer
// than maxBits, for a code minimizing Σ freq·len (zero for unused
// symbols). One used symbol gets a 1-bit code, as deflate requires.
func huffLengths(lens []uint8, freq []int32, maxBits int) {
	clear(lens)
	type node struct {
		w      int64
		parent int32
	}
	var sym [320]int32 // used symbols, by ascending frequency
	n := 0
	for s, f := range freq {
		if f > 0 {
			sym[n] = int32(s)
			n++
		}
	}
	switch n {
	case 0:
		return
	case 1:
		lens[sym[0]] = 1
		return
	}
	syms := sym[:n]
	slices.SortStableFunc(syms, func(a, b int32) int { return int(freq[a] - freq[b]) })
	// Two-queue construction: leaves in order, then internal nodes in the
	// order they are made, whose weights never decrease.
	var nodes [640]node
	for i, s := range syms {
		nodes[i] = node{w: int64(freq[s]), parent: -1}
	}
	leaf, inner, next := 0, n, n
	pick := func() int {
		if leaf < n && (inner >= next || nodes[leaf].w <= nodes[inner].w) {
			leaf++
			return leaf - 1
		}
		inner++
		return inner - 1
	}
	for next < 2*n-1 {
		a, b := pick(), pick()
		nodes[next] = node{w: nodes[a].w + nodes[b].w, parent: -1}
		nodes[a].parent, nodes[b].parent = int32(next), int32(next)
		next++
	}
	// Depths, root first; count codes per length.
	var depth [640]uint8
	var count [64]int
	for i := next - 2; i >= 0; i-- {
		depth[i] = depth[nodes[i].parent] + 1
		if i < n {
			count[depth[i]]++
		}
	}
	// Limit the lengths (JPEG, ITU T.81 Annex K.3 Adjust_BITS): move pairs
	// of the longest codes up, each pair taking the place of one shorter
	// code split in two, which keeps the code complete.
	for i := 63; i > maxBits; i-- {
		for count[i] > 0 {
			j := i - 2
			for count[j] == 0 {
				j--
			}
			count[i] -= 2
			count[i-1]++
			count[j+1] += 2
			count[j]--
		}
	}
	// The most frequent symbols take the shortest codes.
	k := n - 1
	for l := 1; l <= maxBits; l++ {
		for range count[l] {
			lens[syms[k]] = uint8(l)
			k--
		}
	}
}

// assign computes the canonical codes of lens (RFC 1951, 3.2.2), bit
// reversed for an LSB-first writer.
func (h *huffCode) assign(lens []uint8) {
	h.lens = lens
	if cap(h.codes) < len(lens) {
		h.codes = make([]uint16, len(lens))
	}
	h.codes = h.codes[:len(lens)]
	var count [16]uint16
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	var next [16]uint16
	code := uint16(0)
	for l := 1; l < 16; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	for s, l := range lens {
		if l != 0 {
			h.codes[s] = bits.Reverse16(next[l]) >> (16 - l)
			next[l]++
		}
	}
}

// bitWriter appends bits to a slice, least significant first.
type bitWriter struct {
	dst   []byte
	bits  uint64
	nbits uint
}

func (w *bitWriter) write(b uint64, n uint) {
	w.bits |= b << w.nbits
	w.nbits += n
	if w.nbits >= 32 {
		w.dst = binary.LittleEndian.AppendUint32(w.dst, uint32(w.bits))
		w.bits >>= 32
		w.nbits -= 32
	}
}

// align pads to a byte boundary and flushes.
func (w *bitWriter) align() {
	for w.nbits > 0 {
		w.dst = append(w.dst, byte(w.bits))
		w.bits >>= 8
		w.nbits -= min(w.nbits, 8)
	}
}

// header is a dynamic block's code description, run-length coded.
type header struct {
	all   []uint8 // the lengths described
	syms  []uint8 // code length symbols 0-18, each followed by its extra bits in xbits
	xbits []uint8
	clLen [19]uint8
	cl    huffCode
	hclen int
	bits  int // the header's size in bits, block type included
}

// build describes lit (the literal/length code lengths) followed by a
// single 1-bit distance code, unused: an all-literal block.
func (hd *header) build(lit []uint8) {
	hd.all = append(append(hd.all[:0], lit...), 1)
	all := hd.all
	hd.syms, hd.xbits = hd.syms[:0], hd.xbits[:0]
	for i := 0; i < len(all); {
		l := all[i]
		run := 1
		for i+run < len(all) && all[i+run] == l {
			run++
		}
		i += run
		if l == 0 {
			for run >= 11 {
				r := min(run, 138)
				hd.syms, hd.xbits = append(hd.syms, 18), append(hd.xbits, uint8(r-11))
				run -= r
			}
			if run >= 3 {
				hd.syms, hd.xbits = append(hd.syms, 17), append(hd.xbits, uint8(run-3))
				run = 0
			}
		} else {
			hd.syms, hd.xbits = append(hd.syms, l), append(hd.xbits, 0)
			run--
			for run >= 3 {
				r := min(run, 6)
				hd.syms, hd.xbits = append(hd.syms, 16), append(hd.xbits, uint8(r-3))
				run -= r
			}
		}
		for ; run > 0; run-- {
			hd.syms, hd.xbits = append(hd.syms, l), append(hd.xbits, 0)
		}
	}
	var freq [19]int32
	for _, s := range hd.syms {
		freq[s]++
	}
	huffLengths(hd.clLen[:], freq[:], 7)
	hd.cl.assign(hd.clLen[:])
	hd.hclen = 19
	for hd.hclen > 4 && hd.clLen[codeOrder[hd.hclen-1]] == 0 {
		hd.hclen--
	}
	hd.bits = 3 + 5 + 5 + 4 + 3*hd.hclen
	for _, s := range hd.syms {
		hd.bits += int(hd.clLen[s]) + [19]int{16: 2, 17: 3, 18: 7}[s]
	}
}

func (hd *header) write(w *bitWriter, final bool, nlit int) {
	w.write(uint64(boolBit(final))|2<<1, 3)
	w.write(uint64(nlit-257), 5)
	w.write(0, 5) // one distance code
	w.write(uint64(hd.hclen-4), 4)
	for _, s := range codeOrder[:hd.hclen] {
		w.write(uint64(hd.clLen[s]), 3)
	}
	for i, s := range hd.syms {
		w.write(uint64(hd.cl.codes[s]), uint(hd.clLen[s]))
		switch s {
		case 16:
			w.write(uint64(hd.xbits[i]), 2)
		case 17:
			w.write(uint64(hd.xbits[i]), 3)
		case 18:
			w.write(uint64(hd.xbits[i]), 7)
		}
	}
}

// literalCoder writes literal-only deflate blocks.
type literalCoder struct {
	w   bitWriter
	buf []byte // bytes gathered, when streaming
	// split's memory
	costs  []float32
	from   []int32
	prefix [][256]uint32
	ends   []int

	freq [257]int32
	lens [257]uint8
	code huffCode
	hd   header
}

// blockCost is the size in bits of data as a dynamic block, and the size
// of the same as a fixed-code block, and stored.
func (c *literalCoder) blockCost(data []byte) (dynamic, fixed, stored int) {
	clear(c.freq[:])
	for _, b := range data {
		c.freq[b]++
	}
	c.freq[256] = 1
	huffLengths(c.lens[:], c.freq[:], 15)
	c.hd.build(c.lens[:])
	dynamic = c.hd.bits
	fixed = 3 + 7
	for s, f := range c.freq[:256] {
		dynamic += int(f) * int(c.lens[s])
		fixed += int(f) * (8 + boolBit(s >= 144))
	}
	dynamic += int(c.lens[256])
	// A stored block holds at most 65535 bytes, after at most 7 bits of
	// padding.
	stored = (3+7+32)*max((len(data)+65534)/65535, 1) + 8*len(data)
	return dynamic, fixed, stored
}

// block writes data as one block, whichever of the three kinds is
// smallest.
func (c *literalCoder) block(data []byte, final bool) {
	dyn, fix, sto := c.blockCost(data)
	w := &c.w
	switch {
	case sto < dyn && sto < fix:
		for {
			n := min(len(data), 65535)
			w.write(uint64(boolBit(final && n == len(data))), 3)
			w.align()
			w.dst = binary.LittleEndian.AppendUint16(w.dst, uint16(n))
			w.dst = binary.LittleEndian.AppendUint16(w.dst, ^uint16(n))
			w.dst = append(w.dst, data[:n]...)
			if data = data[n:]; len(data) == 0 {
				break
			}
		}
	case fix <= dyn:
		w.write(uint64(boolBit(final))|1<<1, 3)
		for _, b := range data {
			if b < 144 {
				w.write(uint64(bits.Reverse8(0x30+b)), 8)
			} else {
				w.write(uint64(bits.Reverse16(0x190+uint16(b-144))>>7), 9)
			}
		}
		w.write(0, 7) // end of block
	default:
		c.code.assign(c.lens[:])
		c.hd.write(w, final, 257)
		codes, lens := c.code.codes, c.code.lens
		for _, b := range data {
			w.write(uint64(codes[b]), uint(lens[b]))
		}
		w.write(uint64(codes[256]), uint(lens[256]))
	}
}

// Block boundaries fall every splitGrain bytes, and a block is at most
// splitMax grains long. Measured on the bench photos' thumbnails, the
// best blocks run from 5 KB (the 1024 px one, noisy) to 50 KB (400 px).
const (
	splitGrain = 1024
	splitMax   = 64
)

// splitLengths are the block lengths, in grains, split considers.
var splitLengths = [...]int{1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64}

// xlog2x holds x·log2(x) for the byte counts of a block split considers.
// It is made on first use: 256 KB.
var xlog2x = sync.OnceValue(func() []float32 {
	t := make([]float32, splitGrain*splitMax+1)
	for x := 1; x < len(t); x++ {
		t[x] = float32(float64(x) * math.Log2(float64(x)))
	}
	return t
})

// split chooses where data's literal blocks end: the boundaries, every
// splitGrain bytes, that minimize the blocks' estimated sizes, each its
// bytes' order-0 entropy plus 5 bits per distinct byte value and 150 bits
// for its code's description (fitted on the bench photos). It returns the
// blocks' end offsets.
func (c *literalCoder) split(data []byte) []int {
	n := (len(data) + splitGrain - 1) / splitGrain
	if n <= 1 {
		return append(c.ends[:0], len(data))
	}
	tab := xlog2x()
	if cap(c.costs) < n+1 {
		c.costs = make([]float32, n+1)
		c.from = make([]int32, n+1)
		c.prefix = make([][256]uint32, n+1)
	}
	cost, from, prefix := c.costs[:n+1], c.from[:n+1], c.prefix[:n+1]
	// prefix[g] counts each byte value in the first g grains.
	clear(prefix[0][:])
	for g := range n {
		prefix[g+1] = prefix[g]
		p := &prefix[g+1]
		for _, b := range data[g*splitGrain : min((g+1)*splitGrain, len(data))] {
			p[b]++
		}
	}
	// Bytes near 8 bits of entropy each will be stored whatever the split.
	if order0Hist(&prefix[n], len(data)) > len(data)-len(data)/256 {
		c.ends = c.ends[:0]
		for e := 65535; ; e += 65535 {
			c.ends = append(c.ends, min(e, len(data)))
			if e >= len(data) {
				return c.ends
			}
		}
	}
	for j := 1; j <= n; j++ {
		cost[j] = math.MaxFloat32
	}
	for i := range n {
		pi := &prefix[i]
		for _, k := range splitLengths {
			j := i + k
			if j > n {
				break
			}
			pj := &prefix[j]
			e := tab[min(j*splitGrain, len(data))-i*splitGrain]
			distinct := uint32(0)
			for v, cnt := range pj {
				cnt -= pi[v] // the block's count of v
				e -= tab[cnt]
				distinct += (cnt | -cnt) >> 31
			}
			if e += cost[i] + 5*float32(distinct) + 150; e < cost[j] {
				cost[j], from[j] = e, int32(i)
			}
		}
	}
	c.ends = c.ends[:0]
	for j := n; j > 0; j = int(from[j]) {
		c.ends = append(c.ends, min(j*splitGrain, len(data)))
	}
	slices.Reverse(c.ends)
	return c.ends
}

// encodeSplit appends data as literal-only blocks ending at ends.
func (c *literalCoder) encodeSplit(dst, data []byte, ends []int) []byte {
	c.w = bitWriter{dst: dst}
	start := 0
	for i, e := range ends {
		c.block(data[start:e], i == len(ends)-1)
		start = e
	}
	c.w.align()
	return c.w.dst
}

// splitWindow is how many bytes the streaming literal coder gathers
// before it splits them into blocks.
const splitWindow = 256 << 10

// start begins a stream appended to dst, for write and finish.
func (c *literalCoder) start(dst []byte) {
	c.w = bitWriter{dst: dst}
	c.buf = grow(c.buf, splitWindow)[:0]
}

func (c *literalCoder) write(p []byte) {
	for len(p) > 0 {
		if len(c.buf) == splitWindow {
			c.flush(false)
		}
		n := min(len(p), splitWindow-len(c.buf))
		c.buf = append(c.buf, p[:n]...)
		p = p[n:]
	}
}

// flush writes the gathered bytes as blocks, the last one final if final.
func (c *literalCoder) flush(final bool) {
	start := 0
	ends := c.split(c.buf)
	for i, e := range ends {
		c.block(c.buf[start:e], final && i == len(ends)-1)
		start = e
	}
	c.buf = c.buf[:0]
}

// finish writes the last blocks and returns the stream.
func (c *literalCoder) finish() []byte {
	c.flush(true)
	c.w.align()
	return c.w.dst
}
