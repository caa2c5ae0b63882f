package resize

import (
	"bufio"
	"encoding/binary"
	"io"
	"math/bits"
	"sync"
)

// The PNG path's raw DEFLATE (RFC 1951) decoder. Inflating was the whole
// critical path of a large PNG, so this one decodes from the input
// buffer's own bytes, 64 bits at a time, with tables that give a symbol
// and its extra bits in one lookup, or two literals (a photo's stream is
// almost all literals).
//
// It accepts exactly the streams compress/flate accepts, with the same
// output, and it reads input as compress/flate does when input runs short
// (one byte at a time, as few as the next step needs): it stops on the
// stream's last byte, and tells a source that failed from a stream that
// is corrupt the way compress/flate does.

const (
	histSize = 32 << 10  // how far back a match may reach
	winSize  = 128 << 10 // history plus the room decoded at once (256 KiB: no faster)
	maxMatch = 258

	// The decode tables' first-level widths. Longer codes go through a
	// second-level table.
	litRoot  = 12
	distRoot = 8
	clRoot   = 7 // code-length codes are at most 7 bits: one level

	// Second-level room. A complete code's second-level table of k bits
	// holds at least k+1 codes, so 286 literal/length codes of at most
	// 15 bits fill at most 71 tables of 8 entries and one of 2; 30
	// distance codes at most 3 of 128 and one of 32.
	litTableLen  = 1<<litRoot + 71*8 + 2
	distTableLen = 1<<distRoot + 3*128 + 32

	// The fast loop runs while a refill, and another after two lookups of
	// literals, can load 8 bytes, and while four literals and a match,
	// whose copy may write 31 bytes past its end, fit in the window.
	fastIn  = 16
	fastOut = 4 + maxMatch + 31
)

// A table entry:
//
//	bits 0-5    bits a lookup consumes: the code and its extra bits, or
//	            two literals' codes
//	bits 6-7    literals: how many, 1 or 2
//	bits 8-11   code length, where the extra bits start (the first
//	            literal's length)
//	bits 12-15  kind flags
//	bits 16-31  literal bytes, length or distance base, or link offset
//
// A link's bits 0-7 are the mask of its second-level table's index.
const (
	entLit  = 1 << 12
	entEOB  = 1 << 13
	entLink = 1 << 14
	entBad  = 1 << 15 // no such code (consumes 0), or a symbol the format forbids
)

// Length and distance bases and extra bits, RFC 1951 3.2.5.
var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// The alphabets a table decodes.
const (
	alphaLit  = iota // 0-255 literals, 256 end of block, 257-285 lengths
	alphaDist        // 0-29 distances
	alphaCL          // 0-18 code-length codes, their own value
)

// entry is the table entry of symbol sym of alphabet alpha with a code of
// n bits.
func entry(alpha int, sym int, n uint) uint32 {
	switch alpha {
	case alphaLit:
		switch {
		case sym < 256:
			return entLit | uint32(sym)<<16 | 1<<6 | uint32(n)<<8 | uint32(n)
		case sym == 256:
			return entEOB | uint32(n)<<8 | uint32(n)
		case sym < 286:
			x := uint(lengthExtra[sym-257])
			return uint32(lengthBase[sym-257])<<16 | uint32(n)<<8 | uint32(n+x)
		}
	case alphaDist:
		if sym < 30 {
			x := uint(distExtra[sym])
			return uint32(distBase[sym])<<16 | uint32(n)<<8 | uint32(n+x)
		}
	case alphaCL:
		return uint32(sym)<<16 | uint32(n)<<8 | uint32(n)
	}
	// Literal/length 286 and 287 and distances 30 and 31 have codes in
	// the fixed code but are refused once read.
	return entBad | uint32(n)<<8 | uint32(n)
}

// buildTable fills t, of first-level width root, to decode the code that
// lengths define (RFC 1951 3.2.2). It returns the shortest code's length
// and false if compress/flate would refuse the code: it accepts complete
// codes, a single code of one bit (zlib writes it) and no code at all
// (refused only when a symbol is decoded with it). Where two literals'
// codes fit in root bits, their entry decodes both.
//
// Tables are built for every block (a photo's stream has one every 16 KiB
// or so), so the first level is filled by doubling: the codes of n bits
// are set once each in the first 1<<n entries, which are then copied onto
// the next 1<<n.
func buildTable(t []uint32, root uint, alpha int, lengths []uint8) (uint, bool) {
	var count [16]uint16
	for _, n := range lengths {
		count[n]++
	}
	count[0] = 0
	minLen, maxLen := uint(0), uint(0)
	left := 1 // codes of the current length still free
	for n := uint(1); n < 16; n++ {
		left = left<<1 - int(count[n])
		if left < 0 {
			return 0, false // over-subscribed
		}
		if count[n] != 0 {
			if minLen == 0 {
				minLen = n
			}
			maxLen = n
		}
	}
	rootT := t[:1<<root]
	if maxLen == 0 {
		for i := range rootT {
			rootT[i] = entBad
		}
		return 0, true
	}
	if left != 0 && (maxLen != 1 || count[1] != 1) {
		return 0, false // incomplete
	}

	// Symbols by code length, then value (the canonical order), and
	// their codes, reversed as they are read.
	var offs [17]uint16 // of each length in sorted
	var lits [16]uint16 // where the literals of each length end in sorted
	for n := 1; n < 16; n++ {
		offs[n+1] = offs[n] + count[n]
	}
	var sorted [288]uint16
	for s, n := range lengths {
		if n != 0 {
			sorted[offs[n]] = uint16(s)
			offs[n]++
			if s < 256 {
				lits[n] = offs[n]
			}
		}
	}
	for n := 15; n > 0; n-- {
		offs[n] -= count[n]
		if lits[n] == 0 {
			lits[n] = offs[n]
		}
	}
	// codes[i] is sorted[i]'s code, reversed as it is read, and the
	// symbol above: what the loops below need, next to each other.
	var codes [288]uint32
	code := uint(0)
	for n := uint(1); n <= maxLen; n++ {
		for i := offs[n]; i < offs[n+1]; i++ {
			codes[i] = uint32(bits.Reverse16(uint16(code))>>(16-n)) | uint32(sorted[i])<<16
			code++
		}
		code <<= 1
	}

	rootT[0], rootT[1] = entBad, entBad // the single code's missing half
	for n := uint(1); n <= root; n++ {
		if n > 1 {
			copy(rootT[1<<(n-1):1<<n], rootT[:1<<(n-1)])
		}
		for _, c := range codes[offs[n]:offs[n+1]] {
			rootT[c&0xffff] = entry(alpha, int(c>>16), n)
		}
		if alpha != alphaLit {
			continue
		}
		for n1 := minLen; n1+minLen <= n; n1++ {
			n2 := n - n1
			pairs(rootT, codes[offs[n1]:lits[n1]], codes[offs[n2]:lits[n2]], n1, n)
		}
	}

	// Codes longer than root, in second-level tables by their first
	// root bits. In canonical order the codes sharing them follow each
	// other, the longest last.
	next := uint(1 << root) // the next free second-level entry
	for i := int(offs[root+1]); i < int(offs[16]); {
		prefix := codes[i] & (1<<root - 1)
		j := i + 1
		for j < int(offs[16]) && codes[j]&(1<<root-1) == prefix {
			j++
		}
		width := uint(lengths[sorted[j-1]]) - root
		if next+1<<width > uint(len(t)) {
			return 0, false // cannot happen for a complete code
		}
		rootT[prefix] = entLink | uint32(next)<<16 | 1<<width - 1
		sub := t[next : next+1<<width]
		for ; i < j; i++ {
			s := sorted[i]
			n := uint(lengths[s])
			e := entry(alpha, int(s), n)
			for k := uint(codes[i]&0xffff) >> root; k < 1<<width; k += 1 << (n - root) {
				sub[k] = e
			}
		}
		next += 1 << width
	}
	return minLen, true
}

// pairs sets the entries of each literal of first, of n1 bits, followed by
// each of second, n bits in all. Entries are code | symbol<<16.
func pairs(table []uint32, first, second []uint32, n1, n uint) {
	t := table[: 1<<litRoot : 1<<litRoot]
	for _, b := range second {
		rb := (b & 0xffff) << (n1 & 15)
		eb := entLit | b>>16<<24 | 2<<6 | uint32(n1)<<8 | uint32(n)
		for _, a := range first {
			t[(a|rb)&(1<<litRoot-1)] = a&^0xffff | eb
		}
	}
}

// fixedTables are the tables of the fixed code, RFC 1951 3.2.6.
var fixedTables = sync.OnceValues(func() (*[litTableLen]uint32, *[distTableLen]uint32) {
	var lengths [288]uint8
	for i := range lengths {
		switch {
		case i < 144:
			lengths[i] = 8
		case i < 256:
			lengths[i] = 9
		case i < 280:
			lengths[i] = 7
		default:
			lengths[i] = 8
		}
	}
	lit := new([litTableLen]uint32)
	buildTable(lit[:], litRoot, alphaLit, lengths[:])
	dist := new([distTableLen]uint32)
	for i := range 32 {
		lengths[i] = 5
	}
	buildTable(dist[:], distRoot, alphaDist, lengths[:32])
	return lit, dist
})

// inflateError is a DEFLATE stream that is malformed, or ends too soon.
type inflateError struct {
	msg       string
	truncated bool
}

func (e *inflateError) Error() string { return "resize: corrupt image: png: inflate: " + e.msg }

// Unwrap makes the error ErrCorrupt, and a truncated stream also
// io.ErrUnexpectedEOF.
func (e *inflateError) Unwrap() []error {
	if e.truncated {
		return []error{ErrCorrupt, io.ErrUnexpectedEOF}
	}
	return []error{ErrCorrupt}
}

func corrupt(msg string) error { return &inflateError{msg: msg} }

var errTruncated = &inflateError{msg: "unexpected end of stream", truncated: true}

// Decoder states between calls.
const (
	stHeader = iota // at a block's header
	stHuff          // in a Huffman-coded block
	stStored        // in a stored block, f.stored bytes to go
	stEnd           // past the final block
)

// inflater reads a raw DEFLATE stream from a bufio.Reader and is read as
// the decompressed bytes. Its memory is fixed: the window and the tables.
type inflater struct {
	src *bufio.Reader
	in  []byte // src's buffered bytes, peeked; in[:ip] are consumed
	ip  int

	// The next input bits, LSB first. Bits above nb are zero or the
	// bits that follow.
	bits uint64
	nb   uint

	win *[winSize]byte // win[:op] is output, of which win[rp:op] is still to be read
	op  int
	rp  int

	state  int
	final  bool // the current block is the last
	stored int

	// The current block's tables, and the shortest code compress/flate
	// reads before a lookup.
	lit             *[litTableLen]uint32
	dist            *[distTableLen]uint32
	litMin, distMin uint
	dynLit          [litTableLen]uint32
	dynDist         [distTableLen]uint32
	lengths         [286 + 30]uint8

	err error
}

// newInflater returns an inflater of the DEFLATE stream at r's start. With
// a *bufio.Reader it leaves r just past the stream's last byte once it has
// returned io.EOF; another reader gets a bufio.Reader of its own, which may
// read past the stream's end.
func newInflater(r io.Reader) *inflater {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	return &inflater{src: br, win: new([winSize]byte)}
}

// Read reads decompressed bytes. It returns io.EOF after the final block,
// an error wrapping ErrCorrupt for a malformed or truncated stream, and a
// source's error (other than io.EOF) as it is.
func (f *inflater) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if f.rp < f.op {
			c := copy(p[n:], f.win[f.rp:f.op])
			f.rp += c
			n += c
			continue
		}
		if f.err != nil {
			break
		}
		f.decode()
	}
	if n > 0 {
		return n, nil
	}
	return 0, f.err
}

// decode decodes into the window until it is about full, the stream ends
// or an error. All the window's output has been read.
func (f *inflater) decode() {
	if f.op > winSize-fastOut {
		copy(f.win[:], f.win[f.op-histSize:f.op])
		f.op, f.rp = histSize, histSize
	}
	f.in, _ = f.src.Peek(f.src.Buffered())
	f.ip = 0
	for f.err == nil && f.op <= winSize-fastOut {
		switch f.state {
		case stHeader:
			f.err = f.header()
		case stHuff:
			f.err = f.huff()
		case stStored:
			f.err = f.copyStored()
		case stEnd:
			f.err = io.EOF
		}
	}
	f.giveBack()
	f.src.Discard(f.ip) // buffered bytes, it cannot fail
	f.in, f.ip = nil, 0
}

// more makes more input buffered, once all of it is consumed: src reads
// once more, as its ReadByte would.
func (f *inflater) more() error {
	f.src.Discard(f.ip)
	f.in, f.ip = nil, 0
	if _, err := f.src.Peek(1); err != nil {
		if err == io.EOF {
			return errTruncated
		}
		return err
	}
	f.in, _ = f.src.Peek(f.src.Buffered())
	return nil
}

// need makes sure n bits are buffered: 8 bytes at once if the buffer has
// them (the whole bytes are given back before decode returns), else one
// byte at a time, as compress/flate reads.
func (f *inflater) need(n uint) error {
	if f.nb >= n {
		return nil
	}
	if f.ip+8 <= len(f.in) {
		f.bits |= binary.LittleEndian.Uint64(f.in[f.ip:]) << (f.nb & 63)
		f.ip += int(63-f.nb) >> 3
		f.nb |= 56
		return nil
	}
	for f.nb < n {
		if f.ip >= len(f.in) {
			if err := f.more(); err != nil {
				return err
			}
		}
		f.bits |= uint64(f.in[f.ip]) << f.nb
		f.ip++
		f.nb += 8
	}
	return nil
}

// giveBack returns the whole bytes of the bit buffer to the input, those
// still in it.
func (f *inflater) giveBack() {
	back := min(int(f.nb>>3), f.ip)
	f.ip -= back
	f.nb -= uint(back) << 3
	f.bits &= 1<<f.nb - 1
}

func (f *inflater) take(n uint) uint64 {
	v := f.bits & (1<<n - 1)
	f.bits >>= n
	f.nb -= n
	return v
}

// header reads a block's header, and a dynamic block's code.
func (f *inflater) header() error {
	if err := f.need(3); err != nil {
		return err
	}
	f.final = f.take(1) == 1
	switch f.take(2) {
	case 0:
		f.state = stStored
		return f.storedHeader()
	case 1:
		f.lit, f.dist = fixedTables()
		f.litMin, f.distMin = 7, 5
		f.state = stHuff
		return nil
	case 2:
		if err := f.dynamic(); err != nil {
			return err
		}
		f.lit, f.dist = &f.dynLit, &f.dynDist
		f.state = stHuff
		return nil
	}
	return corrupt("invalid block type")
}

// codeOrder is the order of the code-length code's lengths, RFC 1951 3.2.7.
var codeOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// dynamic reads a dynamic block's code, in compress/flate's order of
// reads and checks.
func (f *inflater) dynamic() error {
	if err := f.need(14); err != nil {
		return err
	}
	nlit := int(f.take(5)) + 257
	ndist := int(f.take(5)) + 1
	nclen := int(f.take(4)) + 4
	if nlit > 286 || ndist > 30 {
		return corrupt("invalid code counts")
	}
	var clLengths [19]uint8
	for i := range nclen {
		if err := f.need(3); err != nil {
			return err
		}
		clLengths[codeOrder[i]] = uint8(f.take(3))
	}
	var clTable [1 << clRoot]uint32
	clMin, ok := buildTable(clTable[:], clRoot, alphaCL, clLengths[:])
	if !ok {
		return corrupt("invalid code-length code")
	}
	lengths := f.lengths[:nlit+ndist]
	for i := 0; i < len(lengths); {
		e, err := f.lookup(clTable[:], clRoot, clMin)
		if err != nil {
			return err
		}
		if e&entBad != 0 {
			return corrupt("invalid code length")
		}
		f.take(uint(e & 63))
		sym := e >> 16
		if sym < 16 {
			lengths[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return corrupt("repeat with no length")
			}
			if err := f.need(2); err != nil {
				return err
			}
			rep, val = 3+int(f.take(2)), lengths[i-1]
		case 17:
			if err := f.need(3); err != nil {
				return err
			}
			rep = 3 + int(f.take(3))
		default:
			if err := f.need(7); err != nil {
				return err
			}
			rep = 11 + int(f.take(7))
		}
		if i+rep > len(lengths) {
			return corrupt("code lengths overflow")
		}
		for range rep {
			lengths[i] = val
			i++
		}
	}
	litMin, ok1 := buildTable(f.dynLit[:], litRoot, alphaLit, lengths[:nlit])
	distMin, ok2 := buildTable(f.dynDist[:], distRoot, alphaDist, lengths[nlit:])
	if !ok1 || !ok2 {
		return corrupt("invalid code")
	}
	// compress/flate reads at least as many bits as the end-of-block
	// code before the first lookup: every block ends with one.
	f.litMin = max(litMin, uint(lengths[256]))
	f.distMin = distMin
	return nil
}

// storedHeader reads a stored block's lengths, from the next byte
// boundary.
func (f *inflater) storedHeader() error {
	f.bits >>= f.nb & 7
	f.nb &^= 7
	var b [4]byte
	for i := range b {
		c, err := f.alignedByte()
		if err != nil {
			return err
		}
		b[i] = c
	}
	n := binary.LittleEndian.Uint16(b[:2])
	if n != ^binary.LittleEndian.Uint16(b[2:]) {
		return corrupt("invalid stored block lengths")
	}
	f.stored = int(n)
	if n == 0 {
		f.endBlock()
	}
	return nil
}

// alignedByte reads the next byte when on a byte boundary.
func (f *inflater) alignedByte() (byte, error) {
	if f.nb >= 8 {
		return byte(f.take(8)), nil
	}
	f.bits = 0 // its bits above nb may be the bytes read now
	if f.ip >= len(f.in) {
		if err := f.more(); err != nil {
			return 0, err
		}
	}
	f.ip++
	return f.in[f.ip-1], nil
}

// copyStored copies a stored block's bytes into the window, as many as fit.
func (f *inflater) copyStored() error {
	for f.stored > 0 && f.op < winSize {
		if f.nb >= 8 {
			f.win[f.op] = byte(f.take(8))
			f.op++
			f.stored--
			continue
		}
		f.bits = 0
		if f.ip >= len(f.in) {
			if err := f.more(); err != nil {
				return err
			}
		}
		c := copy(f.win[f.op:min(winSize, f.op+f.stored)], f.in[f.ip:])
		f.op += c
		f.ip += c
		f.stored -= c
	}
	if f.stored == 0 {
		f.endBlock()
	}
	return nil
}

func (f *inflater) endBlock() {
	f.state = stHeader
	if f.final {
		f.state = stEnd
	}
}

// huff decodes a Huffman-coded block until the window is about full, or
// the block ends: fast while input is plentiful, else one symbol at a
// time.
func (f *inflater) huff() error {
	for f.state == stHuff && f.op <= winSize-fastOut {
		if f.ip+fastIn <= len(f.in) {
			if err := f.fast(); err != nil {
				return err
			}
			continue
		}
		if err := f.slow(); err != nil {
			return err
		}
	}
	return nil
}

// lookup finds the entry of the next code of t, reading input as
// compress/flate does: at least min bits, then until the entry's bits; a
// literal's entry only to the first literal's.
func (f *inflater) lookup(t []uint32, root, min uint) (uint32, error) {
	if err := f.need(min); err != nil {
		return 0, err
	}
	for {
		e := t[f.bits&(1<<root-1)]
		if e&entLink != 0 {
			e = t[uint(e>>16)+uint(f.bits>>root)&uint(e&0xff)]
		}
		n := uint(e & 63)
		if e&entLit != 0 {
			n = uint(e >> 8 & 15)
		}
		if n <= f.nb {
			return e, nil
		}
		if err := f.need(f.nb + 1); err != nil {
			return 0, err
		}
	}
}

// slow decodes one symbol, and a match's distance, when input is short.
func (f *inflater) slow() error {
	e, err := f.lookup(f.lit[:], litRoot, f.litMin)
	if err != nil {
		return err
	}
	switch {
	case e&entBad != 0:
		return corrupt("invalid literal/length code")
	case e&entLit != 0:
		f.take(uint(e >> 8 & 15)) // the first literal only
		f.win[f.op] = byte(e >> 16)
		f.op++
		return nil
	case e&entEOB != 0:
		f.take(uint(e & 63))
		f.endBlock()
		return nil
	}
	length := int(e>>16) + int(f.take(uint(e&63))>>(e>>8&15))
	d, err := f.lookup(f.dist[:], distRoot, f.distMin)
	if err != nil {
		return err
	}
	if d&entBad != 0 {
		return corrupt("invalid distance code")
	}
	dist := int(d>>16) + int(f.take(uint(d&63))>>(d>>8&15))
	if dist > f.op {
		return corrupt("distance too far back")
	}
	w := f.win[f.op-dist : f.op+length]
	for i := dist; i < len(w); i++ {
		w[i] = w[i-dist]
	}
	f.op += length
	return nil
}

// fast decodes while fastIn input bytes and fastOut output bytes are at
// hand, then leaves the bit buffer holding less than a byte (as far as
// the buffered input allows).
func (f *inflater) fast() error {
	const (
		litMask = 1<<litRoot - 1
		winMask = winSize - 1 // op never wraps: the masks only spare bounds checks
	)
	in, ip := f.in, f.ip
	win, op := f.win, f.op
	bitbuf, nb := f.bits, f.nb
	lt, dt := f.lit, f.dist
	inEnd := len(in) - fastIn
	var err error
	for ip <= inEnd && op <= winSize-fastOut {
		bitbuf |= binary.LittleEndian.Uint64(in[ip:]) << (nb & 63)
		ip += int(63-nb) >> 3
		nb |= 56
		e := lt[bitbuf&litMask]
		if e&entLink != 0 {
			e = lt[uint(e>>16)+uint(bitbuf>>litRoot)&uint(e&0xff)]
		}
		if e&entLit != 0 {
			bitbuf >>= e & 63
			nb -= uint(e & 63)
			win[op&winMask] = byte(e >> 16)
			win[(op+1)&winMask] = byte(e >> 24)
			op += int(e >> 6 & 3)
			e = lt[bitbuf&litMask]
			if e&entLink != 0 {
				e = lt[uint(e>>16)+uint(bitbuf>>litRoot)&uint(e&0xff)]
			}
			if e&entLit != 0 {
				bitbuf >>= e & 63
				nb -= uint(e & 63)
				win[op&winMask] = byte(e >> 16)
				win[(op+1)&winMask] = byte(e >> 24)
				op += int(e >> 6 & 3)
				continue
			}
			bitbuf |= binary.LittleEndian.Uint64(in[ip:]) << (nb & 63)
			ip += int(63-nb) >> 3
			nb |= 56
		}
		if e&(entEOB|entBad) != 0 {
			if e&entBad != 0 {
				err = corrupt("invalid literal/length code")
				break
			}
			bitbuf >>= e & 63
			nb -= uint(e & 63)
			f.endBlock()
			break
		}
		total := e & 63
		length := int(e>>16) + int((bitbuf&(1<<total-1))>>(e>>8&15))
		bitbuf >>= total
		nb -= uint(total)

		d := dt[bitbuf&(1<<distRoot-1)]
		if d&entLink != 0 {
			d = dt[uint(d>>16)+uint(bitbuf>>distRoot)&uint(d&0xff)]
		}
		if d&entBad != 0 {
			err = corrupt("invalid distance code")
			break
		}
		total = d & 63
		dist := int(d>>16) + int((bitbuf&(1<<total-1))>>(d>>8&15))
		bitbuf >>= total
		nb -= uint(total)
		if dist > op {
			err = corrupt("distance too far back")
			break
		}
		src := op - dist
		switch {
		case dist >= 8 && length <= 16:
			// Two words: the second's source is written when read.
			binary.LittleEndian.PutUint64(win[op:], binary.LittleEndian.Uint64(win[src:]))
			binary.LittleEndian.PutUint64(win[op+8:], binary.LittleEndian.Uint64(win[src+8:]))
		case dist >= length:
			copy(win[op:op+length], win[src:op])
		case dist >= 8:
			// Overlapping, a word at a time (up to 7 bytes too many).
			w := win[src : op+length+7]
			for i := 0; i+dist+8 <= len(w); i += 8 {
				binary.LittleEndian.PutUint64(w[i+dist:], binary.LittleEndian.Uint64(w[i:]))
			}
		case dist == 1:
			// A run: 32 bytes at a time (up to 31 too many).
			v := uint64(win[src]) * 0x0101010101010101
			for i := 0; i < length; i += 32 {
				w := (*[32]byte)(win[op+i : op+i+32])
				binary.LittleEndian.PutUint64(w[0:], v)
				binary.LittleEndian.PutUint64(w[8:], v)
				binary.LittleEndian.PutUint64(w[16:], v)
				binary.LittleEndian.PutUint64(w[24:], v)
			}
		default:
			w := win[src : op+length]
			for i := dist; i < len(w); i++ {
				w[i] = w[i-dist]
			}
		}
		op += length
	}
	f.ip, f.op, f.bits, f.nb = ip, op, bitbuf, nb
	f.giveBack()
	return err
}
