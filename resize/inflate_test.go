package resize

import (
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	kflate "github.com/klauspost/compress/flate"

	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
)

// inflateTrailer follows every test stream: the inflater must stop
// before it.
const inflateTrailer = "TRAILER"

// inflateAll inflates data, followed by inflateTrailer, with our inflater
// reading into buffers of size bufSize. After the stream's end it returns
// what is left of the input. Its bufio.Reader is small for small reads (the
// inflater then works with little input at hand), else 32 KiB as in the
// PNG path.
func inflateAll(t testing.TB, data []byte, bufSize int) (out, rest []byte, err error) {
	t.Helper()
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(data), strings.NewReader(inflateTrailer)), min(max(16, bufSize), 32<<10))
	f := newInflater(br)
	buf := make([]byte, bufSize)
	for {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return out, nil, err
		}
		if n == 0 {
			t.Fatalf("Read returned 0, nil")
		}
	}
	if n, err := f.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after the end: %d, %v", n, err)
	}
	rest, err = io.ReadAll(br)
	return out, rest, err
}

// stdInflate is inflateAll with compress/flate, which reads no byte past
// the stream from an io.ByteReader, and up to limit bytes of output.
func stdInflate(data []byte, limit int64) (out, rest []byte, err error) {
	br := bufio.NewReader(io.MultiReader(bytes.NewReader(data), strings.NewReader(inflateTrailer)))
	out, err = io.ReadAll(io.LimitReader(flate.NewReader(br), limit))
	if err != nil {
		return out, nil, err
	}
	rest, err = io.ReadAll(br)
	return out, rest, err
}

// deflate compresses data with compress/flate at level.
func deflate(t testing.TB, data []byte, level int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// inflateSamples are varied inputs to compress.
func inflateSamples(t testing.TB) map[string][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 200<<10)
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
	text := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 3000))
	for i := 0; i < len(text); i += 97 {
		text[i] = byte('a' + r.IntN(26))
	}
	runs := make([]byte, 300<<10)
	for i := 0; i < len(runs); {
		n := 1 + r.IntN(700)
		b := byte(r.IntN(4))
		for j := 0; j < n && i < len(runs); j++ {
			runs[i] = b
			i++
		}
	}
	// Long-range repeats: long matches far back.
	far := make([]byte, 32768)
	for i := range far {
		far[i] = byte(r.Uint32())
	}
	far = append(far, far...)
	far = append(far, far[:5000]...)
	return map[string][]byte{
		"empty":        nil,
		"one":          {42},
		"zeros":        make([]byte, 1<<20),
		"noise":        noise,
		"text":         text,
		"runs":         runs,
		"far":          far,
		"photo":        pngRows(t, testimages.EncodePNG(testimages.Photo(300, 200, 3))),
		"screenshot":   pngRows(t, testimages.EncodePNG(testimages.Screenshot(320, 200))),
		"illustration": pngRows(t, testimages.EncodePNG(testimages.Illustration(200, 200))),
	}
}

// pngIDAT returns the raw deflate stream of a PNG's image data: the
// IDAT chunks' data without the zlib header and checksum.
func pngIDAT(data []byte) []byte {
	var z []byte
	for p := 8; p+8 <= len(data); {
		n := int(data[p])<<24 | int(data[p+1])<<16 | int(data[p+2])<<8 | int(data[p+3])
		if string(data[p+4:p+8]) == "IDAT" {
			z = append(z, data[p+8:p+8+n]...)
		}
		p += 12 + n
	}
	if len(z) < 6 {
		panic("no image data")
	}
	return z[2 : len(z)-4]
}

// pngRows returns a PNG's filtered rows, decompressed.
func pngRows(t testing.TB, data []byte) []byte {
	t.Helper()
	rows, _, err := stdInflate(pngIDAT(data), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestInflateRoundTrip(t *testing.T) {
	for name, data := range inflateSamples(t) {
		for level := -2; level <= 9; level++ {
			z := deflate(t, data, level)
			for _, size := range []int{1, 7, 4096, 1 << 20} {
				if size < 4096 && len(data) > 64<<10 {
					continue
				}
				got, rest, err := inflateAll(t, z, size)
				if err != nil {
					t.Fatalf("%s level %d, %d-byte reads: %v", name, level, size, err)
				}
				if string(rest) != inflateTrailer {
					t.Fatalf("%s level %d: %q left after the stream", name, level, rest)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("%s level %d, %d-byte reads: output differs (%d bytes, want %d)", name, level, size, len(got), len(data))
				}
			}
		}
	}
}

// benchDeflate is the raw deflate stream of the bench's 12 MP photo, and
// of its 1920×1080 screenshot (mostly matches).
var benchDeflate = sync.OnceValue(func() []byte {
	return pngIDAT(testimages.EncodePNG(testimages.Photo(4000, 3000, 1)))
})

var benchScreenshot = sync.OnceValue(func() []byte {
	return pngIDAT(testimages.EncodePNG(testimages.Screenshot(1920, 1080)))
})

// BenchmarkInflate inflates the 12 MP photo's image data (and the
// screenshot's), read in 1 MiB batches as the PNG path does, with ours and
// the two others. Bytes are the compressed size.
func BenchmarkInflate(b *testing.B) {
	for _, src := range []struct {
		name string
		z    func() []byte
	}{{"photo", benchDeflate}, {"screenshot", benchScreenshot}} {
		for _, dec := range []struct {
			name string
			new  func(io.Reader) io.Reader
		}{
			{"ours", func(r io.Reader) io.Reader { return newInflater(r) }},
			{"klauspost", func(r io.Reader) io.Reader { return kflate.NewReader(r) }},
			{"stdlib", func(r io.Reader) io.Reader { return flate.NewReader(r) }},
		} {
			b.Run(src.name+"/"+dec.name, func(b *testing.B) {
				z := src.z()
				b.ReportAllocs()
				b.SetBytes(int64(len(z)))
				buf := make([]byte, 1<<20)
				for b.Loop() {
					r := dec.new(bufio.NewReaderSize(bytes.NewReader(z), 32<<10))
					for {
						_, err := io.ReadFull(r, buf)
						if err == io.EOF || err == io.ErrUnexpectedEOF {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}

// dfWriter writes a DEFLATE stream by hand, for the cases an encoder
// does not write.
type dfWriter struct {
	out []byte
	acc uint64
	n   uint
}

// bits writes v's n low bits, LSB first.
func (w *dfWriter) bits(v uint64, n uint) {
	w.acc |= (v & (1<<n - 1)) << w.n
	w.n += n
	for w.n >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

// code writes a Huffman code, MSB first.
func (w *dfWriter) code(c uint16, n uint8) {
	for i := int(n) - 1; i >= 0; i-- {
		w.bits(uint64(c>>i&1), 1)
	}
}

func (w *dfWriter) align() {
	if w.n > 0 {
		w.bits(0, 8-w.n)
	}
}

func (w *dfWriter) bytes() []byte {
	w.align()
	return w.out
}

// dfCode is a canonical code, RFC 1951 3.2.2.
type dfCode struct {
	lens  []uint8
	codes []uint16
}

func canonical(lens []uint8) dfCode {
	var count [16]uint16
	for _, n := range lens {
		if n > 0 {
			count[n]++
		}
	}
	var next [16]uint16
	code := uint16(0)
	for n := 1; n < 16; n++ {
		code = (code + count[n-1]) << 1
		if n == 1 {
			code = 0
		}
		next[n] = code
	}
	h := dfCode{lens: lens, codes: make([]uint16, len(lens))}
	for s, n := range lens {
		if n > 0 {
			h.codes[s] = next[n]
			next[n]++
		}
	}
	return h
}

func (w *dfWriter) sym(h dfCode, s int) { w.code(h.codes[s], h.lens[s]) }

func fixedCodes() (lit, dist dfCode) {
	lens := make([]uint8, 288)
	for i := range lens {
		switch {
		case i < 144:
			lens[i] = 8
		case i < 256:
			lens[i] = 9
		case i < 280:
			lens[i] = 7
		default:
			lens[i] = 8
		}
	}
	d := make([]uint8, 32)
	for i := range d {
		d[i] = 5
	}
	return canonical(lens), canonical(d)
}

// match writes length symbol ls and distance symbol ds, with their extra
// bits lx and dx, with codes lit and dist.
func (w *dfWriter) match(lit, dist dfCode, ls, lx, ds, dx int) {
	w.sym(lit, ls)
	w.bits(uint64(lx), uint(lengthExtra[ls-257]))
	w.sym(dist, ds)
	w.bits(uint64(dx), uint(distExtra[ds]))
}

// stored writes a stored block of data.
func (w *dfWriter) stored(final bool, data []byte) {
	w.bits(b2u(final), 1)
	w.bits(0, 2)
	w.align()
	w.bits(uint64(len(data)), 16)
	w.bits(uint64(^uint16(len(data))), 16)
	w.out = append(w.out, data...)
}

// dynHeader writes a dynamic block's header with the code lengths given,
// each written with a code-length code of 4-bit codes for lengths 0-15.
func (w *dfWriter) dynHeader(final bool, lit, dist []uint8) {
	w.bits(b2u(final), 1)
	w.bits(2, 2)
	w.bits(uint64(len(lit)-257), 5)
	w.bits(uint64(len(dist)-1), 5)
	w.bits(19-4, 4)
	for _, s := range codeOrder {
		w.bits(uint64(b2u(s < 16)*4), 3)
	}
	for _, n := range lit {
		w.code(uint16(n), 4)
	}
	for _, n := range dist {
		w.code(uint16(n), 4)
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// randomLengths returns the code lengths of a random complete code of
// nsym codes at most 15 bits long over symbols 0..size-1, with a code
// for each of must; deep if deep.
func randomLengths(r *rand.Rand, size, nsym int, deep bool, must ...int) []uint8 {
	leaves := []uint8{0}
	for len(leaves) < nsym {
		i := r.IntN(len(leaves))
		if deep && r.IntN(2) == 0 {
			for j, n := range leaves {
				if n > leaves[i] && n < 15 {
					i = j
				}
			}
		}
		if leaves[i] == 15 {
			continue
		}
		leaves[i]++
		leaves = append(leaves, leaves[i])
	}
	lens := make([]uint8, size)
	perm := r.Perm(size)
	k := 0
	for _, s := range must {
		lens[s] = leaves[k]
		k++
	}
	for _, s := range perm {
		if k == len(leaves) {
			break
		}
		if lens[s] == 0 && !contains(must, s) {
			lens[s] = leaves[k]
			k++
		}
	}
	return lens
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// randomStream writes a valid stream of random blocks of every kind, with
// random codes, and returns it.
func randomStream(r *rand.Rand, blocks int) []byte {
	var w dfWriter
	fixLit, fixDist := fixedCodes()
	out := 0
	for b := range blocks {
		final := b == blocks-1
		kind := r.IntN(4)
		if kind == 0 {
			data := make([]byte, r.IntN(300))
			for i := range data {
				data[i] = byte(r.IntN(4))
			}
			w.stored(final, data)
			out += len(data)
			continue
		}
		lit, dist := fixLit, fixDist
		if kind == 1 {
			w.bits(b2u(final), 1)
			w.bits(1, 2)
		} else {
			deep := kind == 3
			nlit := 258 + r.IntN(29)
			litLens := randomLengths(r, nlit, 2+r.IntN(250), deep, 256, 257+r.IntN(nlit-257))
			distLens := []uint8{1} // one code of one bit
			if ndist := 1 + r.IntN(30); ndist > 1 || r.IntN(2) == 0 {
				ndist = max(ndist, 2)
				distLens = randomLengths(r, ndist, 2+r.IntN(ndist-1), deep)
			}
			lit, dist = canonical(litLens), canonical(distLens)
			w.dynHeader(final, litLens, distLens)
		}
		var lits, lens, dists []int
		for s, n := range lit.lens {
			switch {
			case n == 0 || s == 256:
			case s < 256:
				lits = append(lits, s)
			case s < 286:
				lens = append(lens, s)
			}
		}
		for s, n := range dist.lens {
			if n > 0 && s < 30 {
				dists = append(dists, s)
			}
		}
		for range r.IntN(2000) {
			if out > 0 && len(lens) > 0 && len(dists) > 0 && r.IntN(3) == 0 {
				ls, ds := lens[r.IntN(len(lens))], dists[r.IntN(len(dists))]
				lx, dx := r.IntN(1<<lengthExtra[ls-257]), r.IntN(1<<distExtra[ds])
				length, d := int(lengthBase[ls-257])+lx, int(distBase[ds])+dx
				if d > min(out, histSize) {
					continue
				}
				w.match(lit, dist, ls, lx, ds, dx)
				out += length
				continue
			}
			if len(lits) > 0 {
				w.sym(lit, lits[r.IntN(len(lits))])
				out++
			}
		}
		w.sym(lit, 256)
	}
	return w.bytes()
}

// sameAsStd checks that ours and compress/flate agree on z: the same
// output, or both refuse it (ours with ErrCorrupt). It returns whether
// compress/flate accepts z.
func sameAsStd(t *testing.T, name string, z []byte) bool {
	t.Helper()
	want, wantRest, stdErr := stdInflate(z, 1<<30)
	for _, size := range []int{7, 1 << 20} {
		got, rest, err := inflateAll(t, z, size)
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("%s (%d-byte reads): ours %v, compress/flate %v", name, size, err, stdErr)
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), "resize: corrupt image: png: inflate: ") {
				t.Fatalf("%s: %v, not ErrCorrupt", name, err)
			}
			continue
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s (%d-byte reads): output differs (%d bytes, want %d)", name, size, len(got), len(want))
		}
		if !bytes.Equal(rest, wantRest) {
			t.Fatalf("%s: %d bytes left after the stream, compress/flate leaves %d", name, len(rest), len(wantRest))
		}
	}
	return stdErr == nil
}

func TestInflateRandomCodes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 120 {
		z := randomStream(r, 1+r.IntN(5))
		if !sameAsStd(t, fmt.Sprintf("stream %d", i), z) {
			t.Fatalf("stream %d: compress/flate refuses it; the test is wrong", i)
		}
		// The same, broken in one bit.
		for range 3 {
			bad := bytes.Clone(z)
			k := r.IntN(len(bad) * 8)
			bad[k/8] ^= 1 << (k % 8)
			sameAsStd(t, fmt.Sprintf("stream %d, bit %d flipped", i, k), bad)
		}
	}
}

// clItem is a code-length code's symbol and its extra bits.
type clItem struct{ sym, extra int }

// dynHeaderCL writes a dynamic block's header with code-length code
// clLens and code-length symbols items.
func (w *dfWriter) dynHeaderCL(final bool, nlit, ndist int, clLens []uint8, items []clItem) {
	w.bits(b2u(final), 1)
	w.bits(2, 2)
	w.bits(uint64(nlit-257), 5)
	w.bits(uint64(ndist-1), 5)
	w.bits(19-4, 4)
	for _, s := range codeOrder {
		w.bits(uint64(clLens[s]), 3)
	}
	cl := canonical(clLens)
	for _, it := range items {
		w.sym(cl, it.sym)
		switch it.sym {
		case 16:
			w.bits(uint64(it.extra), 2)
		case 17:
			w.bits(uint64(it.extra), 3)
		case 18:
			w.bits(uint64(it.extra), 7)
		}
	}
}

// fixedBlock starts a fixed-code block.
func (w *dfWriter) fixedBlock(final bool) {
	w.bits(b2u(final), 1)
	w.bits(1, 2)
}

// inflateCase is a hand-built stream, and whether it is valid.
type inflateCase struct {
	name string
	ok   bool
	z    []byte
}

// inflateCases are the streams an encoder does not write, or not often.
func inflateCases() []inflateCase {
	fl, fd := fixedCodes()
	r := rand.New(rand.NewPCG(5, 6))
	random := make([]byte, 65535)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	// clCode is a complete code-length code for lengths 0, 1, 8 and 9
	// and the repeat codes.
	clCode := make([]uint8, 19)
	clCode[8], clCode[9], clCode[0], clCode[1], clCode[16], clCode[17], clCode[18] = 2, 2, 3, 3, 3, 4, 4
	var cases []inflateCase
	add := func(name string, ok bool, build func(w *dfWriter)) {
		var w dfWriter
		build(&w)
		cases = append(cases, inflateCase{name, ok, w.bytes()})
	}
	add("fixed, empty", true, func(w *dfWriter) { w.fixedBlock(true); w.sym(fl, 256) })
	add("stored, empty", true, func(w *dfWriter) { w.stored(true, nil) })
	add("many tiny blocks", true, func(w *dfWriter) {
		for i := range 2000 {
			w.fixedBlock(false)
			w.sym(fl, i%256)
			w.sym(fl, 256)
			if i%7 == 0 {
				w.stored(false, nil)
			}
		}
		w.fixedBlock(true)
		w.sym(fl, 256)
	})
	add("distance 32768, length 258", true, func(w *dfWriter) {
		w.stored(false, random[:32768])
		w.fixedBlock(true)
		for range 10 {
			w.match(fl, fd, 285, 0, 29, 8191)
			w.match(fl, fd, 284, 31, 29, 8191) // 258 too, as 227+31
		}
		w.sym(fl, 256)
	})
	add("stored 65535", true, func(w *dfWriter) { w.stored(false, random); w.stored(true, random[:100]) })
	add("distance as far as the output", true, func(w *dfWriter) {
		w.fixedBlock(true)
		w.sym(fl, 'a')
		w.sym(fl, 'b')
		w.match(fl, fd, 285, 0, 1, 0)
		w.sym(fl, 256)
	})
	add("distance beyond the output", false, func(w *dfWriter) {
		w.fixedBlock(true)
		w.sym(fl, 'a')
		w.match(fl, fd, 257, 0, 1, 0)
		w.sym(fl, 256)
	})
	add("distance with no output", false, func(w *dfWriter) {
		w.fixedBlock(true)
		w.match(fl, fd, 257, 0, 0, 0)
		w.sym(fl, 256)
	})
	add("block type 3", false, func(w *dfWriter) { w.bits(1, 1); w.bits(3, 2) })
	for _, s := range []int{286, 287} {
		add(fmt.Sprintf("fixed literal/length %d", s), false, func(w *dfWriter) {
			w.fixedBlock(true)
			w.sym(fl, 'a')
			w.sym(fl, s)
			w.sym(fl, 256)
		})
	}
	for _, s := range []int{30, 31} {
		add(fmt.Sprintf("fixed distance %d", s), false, func(w *dfWriter) {
			w.fixedBlock(true)
			w.sym(fl, 'a')
			w.sym(fl, 257)
			w.sym(fd, s)
			w.sym(fl, 256)
		})
	}
	add("stored, bad NLEN", false, func(w *dfWriter) {
		w.bits(1, 1)
		w.bits(0, 2)
		w.align()
		w.bits(5, 16)
		w.bits(5, 16)
		w.out = append(w.out, 1, 2, 3, 4, 5)
	})
	// Dynamic blocks. lits gives literals 0-255, EOB and lengths 257-258
	// codes of 8 or 9 bits: a complete code.
	lits := func() []uint8 {
		l := make([]uint8, 259)
		for i := range l {
			l[i] = 8
		}
		for i := 253; i < 259; i++ { // 253 8-bit codes, 6 9-bit: 253/256+6/512 = 1
			l[i] = 9
		}
		return l
	}
	dynBlock := func(w *dfWriter, final bool, lit, dist []uint8, body func(lc, dc dfCode)) {
		w.dynHeader(final, lit, dist)
		lc, dc := canonical(lit), canonical(dist)
		body(lc, dc)
	}
	add("dynamic", true, func(w *dfWriter) {
		dynBlock(w, true, lits(), []uint8{1, 1}, func(lc, dc dfCode) {
			w.sym(lc, 'x')
			w.match(lc, dc, 258, 0, 0, 0)
			w.sym(lc, 256)
		})
	})
	add("HLIT 287", false, func(w *dfWriter) {
		l := append(lits(), make([]uint8, 28)...)
		dynBlock(w, true, l, []uint8{1, 1}, func(lc, dc dfCode) { w.sym(lc, 256) })
	})
	add("HLIT 288", false, func(w *dfWriter) {
		l := append(lits(), make([]uint8, 29)...)
		dynBlock(w, true, l, []uint8{1, 1}, func(lc, dc dfCode) { w.sym(lc, 256) })
	})
	add("HDIST 31", false, func(w *dfWriter) {
		dynBlock(w, true, lits(), make([]uint8, 31), func(lc, dc dfCode) { w.sym(lc, 256) })
	})
	add("HDIST 30", true, func(w *dfWriter) {
		dynBlock(w, true, lits(), make([]uint8, 30), func(lc, dc dfCode) { w.sym(lc, 256) })
	})
	add("literal code over-subscribed", false, func(w *dfWriter) {
		l := lits()
		l[0] = 7
		dynBlock(w, true, l, []uint8{1, 1}, func(lc, dc dfCode) { w.sym(lc, 256) })
	})
	add("literal code incomplete", false, func(w *dfWriter) {
		l := lits()
		l[0] = 0
		dynBlock(w, true, l, []uint8{1, 1}, func(lc, dc dfCode) { w.sym(lc, 256) })
	})
	add("literal code: end of block alone, one bit", true, func(w *dfWriter) {
		l := make([]uint8, 257)
		l[256] = 1
		dynBlock(w, false, l, []uint8{0}, func(lc, dc dfCode) { w.sym(lc, 256) })
		dynBlock(w, true, l, []uint8{0}, func(lc, dc dfCode) { w.sym(lc, 256) })
	})
	add("literal code of one bit, the missing code", false, func(w *dfWriter) {
		l := make([]uint8, 257)
		l[256] = 1
		dynBlock(w, true, l, []uint8{0}, func(lc, dc dfCode) { w.bits(1, 1) })
	})
	add("literal code: one literal, one bit, no end", false, func(w *dfWriter) {
		l := make([]uint8, 257)
		l['a'] = 1
		dynBlock(w, true, l, []uint8{0}, func(lc, dc dfCode) {
			for range 20 {
				w.sym(lc, 'a')
			}
		})
	})
	add("literal code empty", false, func(w *dfWriter) {
		dynBlock(w, true, make([]uint8, 257), []uint8{0}, func(lc, dc dfCode) { w.bits(0, 8) })
	})
	add("literal code with no end of block", false, func(w *dfWriter) {
		l := lits()
		l[256], l[258] = 0, 8
		dynBlock(w, true, l, []uint8{1, 1}, func(lc, dc dfCode) { w.sym(lc, 'a') })
	})
	add("distance code empty, literals only", true, func(w *dfWriter) {
		dynBlock(w, true, lits(), []uint8{0}, func(lc, dc dfCode) {
			w.sym(lc, 'a')
			w.sym(lc, 256)
		})
	})
	add("distance code empty, a match", false, func(w *dfWriter) {
		dynBlock(w, true, lits(), []uint8{0}, func(lc, dc dfCode) {
			w.sym(lc, 'a')
			w.sym(lc, 257)
			w.sym(lc, 256)
		})
	})
	add("distance code of one bit", true, func(w *dfWriter) {
		dynBlock(w, true, lits(), []uint8{1}, func(lc, dc dfCode) {
			w.sym(lc, 'a')
			w.match(lc, dc, 258, 0, 0, 0)
			w.sym(lc, 256)
		})
	})
	add("distance code of one bit, the missing code", false, func(w *dfWriter) {
		dynBlock(w, true, lits(), []uint8{1}, func(lc, dc dfCode) {
			w.sym(lc, 'a')
			w.sym(lc, 258)
			w.bits(1, 1)
			w.sym(lc, 256)
		})
	})
	add("distance code incomplete", false, func(w *dfWriter) {
		dynBlock(w, true, lits(), []uint8{1, 2}, func(lc, dc dfCode) { w.sym(lc, 256) })
	})
	add("distance code of one 2-bit code", false, func(w *dfWriter) {
		dynBlock(w, true, lits(), []uint8{2}, func(lc, dc dfCode) { w.sym(lc, 256) })
	})
	// Code-length codes: lits() and two 1-bit distance codes.
	lens := rle(append(lits(), 1, 1))
	add("code-length code with repeats", true, func(w *dfWriter) {
		w.dynHeaderCL(true, 259, 2, clCode, lens)
		lc, dc := canonical(lits()), canonical([]uint8{1, 1})
		w.sym(lc, 'q')
		w.match(lc, dc, 257, 0, 0, 0)
		w.sym(lc, 256)
	})
	add("code-length zeros", true, func(w *dfWriter) {
		l := make([]uint8, 286)
		l[0], l[256] = 1, 1
		w.dynHeaderCL(true, 286, 30, clCode, rle(append(l, make([]uint8, 30)...)))
		lc := canonical(l)
		w.sym(lc, 0)
		w.sym(lc, 256)
	})
	add("code-length repeat first", false, func(w *dfWriter) {
		w.dynHeaderCL(true, 259, 2, clCode, append([]clItem{{16, 0}}, lens...))
	})
	add("code-length repeat too long", false, func(w *dfWriter) {
		items := append(rle(append(lits(), 1)), clItem{16, 0})
		w.dynHeaderCL(true, 259, 2, clCode, items)
	})
	add("code-length zeros too long", false, func(w *dfWriter) {
		items := append(rle(append(lits(), 1)), clItem{18, 0})
		w.dynHeaderCL(true, 259, 2, clCode, items)
	})
	add("code-length code over-subscribed", false, func(w *dfWriter) {
		cl := bytes.Clone(clCode)
		cl[2] = 3
		w.dynHeaderCL(true, 259, 2, cl, nil)
		w.bits(0, 32)
	})
	add("code-length code incomplete", false, func(w *dfWriter) {
		cl := bytes.Clone(clCode)
		cl[18] = 0
		w.dynHeaderCL(true, 259, 2, cl, nil)
		w.bits(0, 32)
	})
	add("code-length code empty", false, func(w *dfWriter) {
		w.dynHeaderCL(true, 259, 2, make([]uint8, 19), nil)
		w.bits(0, 32)
	})
	add("code-length code of one bit", false, func(w *dfWriter) {
		cl := make([]uint8, 19)
		cl[0] = 1
		w.dynHeaderCL(true, 259, 2, cl, nil)
		w.bits(0, 32*8)
	})
	add("trailing bytes", true, func(w *dfWriter) {
		w.fixedBlock(true)
		w.sym(fl, 'z')
		w.sym(fl, 256)
		w.align()
		w.out = append(w.out, "more"...)
	})
	return cases
}

// rle writes code lengths with the repeat codes, as encoders do.
func rle(lens []uint8) []clItem {
	var items []clItem
	for i := 0; i < len(lens); {
		v, n := lens[i], 1
		for i+n < len(lens) && lens[i+n] == v {
			n++
		}
		i += n
		for n > 0 {
			switch {
			case v == 0 && n >= 11:
				k := min(n, 138)
				items = append(items, clItem{18, k - 11})
				n -= k
			case v == 0 && n >= 3:
				items = append(items, clItem{17, n - 3})
				n = 0
			default:
				items = append(items, clItem{int(v), 0})
				n--
				for v != 0 && n >= 3 {
					k := min(n, 6)
					items = append(items, clItem{16, k - 3})
					n -= k
				}
			}
		}
	}
	return items
}

func TestInflateCases(t *testing.T) {
	for _, c := range inflateCases() {
		if ok := sameAsStd(t, c.name, c.z); ok != c.ok {
			t.Errorf("%s: compress/flate accepts it: %v; the test is wrong", c.name, ok)
		}
	}
}

// failAfter yields data, then fails with err.
type failAfter struct {
	data []byte
	err  error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestInflateCut: a stream cut anywhere is refused as corrupt, and a
// source failing anywhere gives its own error back, or ErrCorrupt where
// compress/flate finds the stream corrupt before needing more.
func TestInflateCut(t *testing.T) {
	boom := errors.New("boom")
	streams := [][]byte{deflate(t, []byte(strings.Repeat("cut me anywhere, ", 40)), 9)}
	for _, c := range inflateCases() {
		if len(c.z) < 1000 {
			streams = append(streams, c.z)
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 3 {
		z := randomStream(r, 2)
		streams = append(streams, z[:min(len(z), 600)])
	}
	for i, z := range streams {
		for cut := range len(z) {
			f := newInflater(bytes.NewReader(z[:cut]))
			if _, err := io.ReadAll(f); !errors.Is(err, ErrCorrupt) {
				if _, stdErr := io.ReadAll(flate.NewReader(bytes.NewReader(z[:cut]))); stdErr != nil {
					t.Fatalf("stream %d cut at %d: %v, want ErrCorrupt", i, cut, err)
				}
			}
			f = newInflater(&failAfter{z[:cut], boom})
			_, err := io.ReadAll(f)
			_, stdErr := io.ReadAll(flate.NewReader(bufio.NewReader(&failAfter{z[:cut], boom})))
			if errors.Is(err, boom) != errors.Is(stdErr, boom) || (err == nil) != (stdErr == nil) {
				t.Fatalf("stream %d, source failing at %d: %v; compress/flate: %v", i, cut, err, stdErr)
			}
		}
	}
}

// chunked gives at most n bytes a read.
type chunked struct {
	r io.Reader
	n int
}

func (c *chunked) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// TestInflateBufferBoundaries: the stream's end, or any of its bytes, at
// the end of what the bufio.Reader holds.
func TestInflateBufferBoundaries(t *testing.T) {
	data := inflateSamples(t)["text"][:20000]
	for _, level := range []int{0, 1, 6} {
		z := deflate(t, data, level)
		for _, n := range []int{1, 3, 8, 15, 16, 17, 4096, len(z) - 1, len(z), len(z) + 1} {
			for _, size := range []int{16, 32 << 10} {
				src := io.MultiReader(&chunked{bytes.NewReader(z), n}, strings.NewReader(inflateTrailer))
				br := bufio.NewReaderSize(src, size)
				got, err := io.ReadAll(newInflater(br))
				rest, _ := io.ReadAll(br)
				if err != nil || !bytes.Equal(got, data) || string(rest) != inflateTrailer {
					t.Fatalf("level %d, %d-byte reads, %d-byte buffer: %d bytes, %v, %q left", level, n, size, len(got), err, rest)
				}
			}
		}
	}
}

// TestInflateReaders: sources that give a byte at a time, or their last
// bytes with io.EOF.
func TestInflateReaders(t *testing.T) {
	data := inflateSamples(t)["photo"]
	z := deflate(t, data, 6)
	for name, r := range map[string]io.Reader{
		"one byte": iotest.OneByteReader(bytes.NewReader(z)),
		"half":     iotest.HalfReader(bytes.NewReader(z)),
		"data+EOF": iotest.DataErrReader(bytes.NewReader(z)),
	} {
		got, err := io.ReadAll(newInflater(r))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %d bytes, %v", name, len(got), err)
		}
	}
}

// FuzzInflate: ours and compress/flate agree on every input: the same
// output, up to 4 MiB, and the same bytes consumed; or both refuse it, ours
// with ErrCorrupt; and a source that fails after the input gives its error
// back where compress/flate does.
func FuzzInflate(f *testing.F) {
	for _, level := range []int{-2, 0, 1, 6, 9} {
		f.Add(deflate(f, []byte(strings.Repeat("fuzz the inflater, fuzz it well. ", 20)), level))
	}
	f.Add(deflate(f, pngRows(f, testimages.EncodePNG(testimages.Photo(24, 16, 1))), 6))
	f.Add(deflate(f, pngRows(f, testimages.EncodePNG(testimages.Screenshot(40, 30))), 9))
	for _, c := range inflateCases() {
		if len(c.z) < 4096 {
			f.Add(c.z)
		}
	}
	r := rand.New(rand.NewPCG(9, 10))
	for range 4 {
		if z := randomStream(r, 3); len(z) < 4096 {
			f.Add(z)
		}
	}
	const limit = 4 << 20
	boom := errors.New("boom")
	f.Fuzz(func(t *testing.T, z []byte) {
		want, wantRest, stdErr := stdInflate(z, limit)
		br := bufio.NewReader(io.MultiReader(bytes.NewReader(z), strings.NewReader(inflateTrailer)))
		got, err := io.ReadAll(io.LimitReader(newInflater(br), limit))
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("ours: %v; compress/flate: %v", err, stdErr)
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%v, not ErrCorrupt", err)
			}
		} else {
			if !bytes.Equal(got, want) {
				t.Fatalf("output differs: %d bytes, compress/flate %d", len(got), len(want))
			}
			if len(got) < limit {
				rest, _ := io.ReadAll(br)
				if !bytes.Equal(rest, wantRest) {
					t.Fatalf("%d bytes left after the stream, compress/flate leaves %d", len(rest), len(wantRest))
				}
			}
		}
		_, err = io.ReadAll(io.LimitReader(newInflater(&failAfter{z, boom}), limit))
		_, stdErr = io.ReadAll(io.LimitReader(flate.NewReader(bufio.NewReader(&failAfter{z, boom})), limit))
		if errors.Is(err, boom) != errors.Is(stdErr, boom) {
			t.Fatalf("source failing: ours %v; compress/flate %v", err, stdErr)
		}
	})
}
