package resize

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"sync"
)

// The two-core decoder's input. A source arrives in order, and the helper
// starts in the middle of the scan, so the first half has to be read (and
// held) before the helper can start; the second half need not be. The
// scan's bytes go into a chain of fixed-size chunks that a filler
// goroutine reads from the source: until the split point, as fast as the
// source gives them; after it, at most a couple of chunks past the
// furthest decoder. A chunk is dropped once no decoder needs it, so the
// first decoder frees the first half as it goes and the helper reads the
// second half as it streams in. What the chain holds peaks at about half
// the scan, when the helper starts.
//
// Without restart markers the helper starts speculatively, and if the
// first decoder never meets it, the first decoder must decode the second
// half itself: the helper's bytes are kept (retained) until the two meet.
// The helper then waits whenever the chain would hold more than it did at
// the split, so that a second half quicker to decode than the first cannot
// make the chain hold more than half the scan.

// jpegChunkSize is the data size of a chunk. (A variable so that tests can
// make a small image cross many chunks.) With its head, a chunk is 64 KB,
// eight whole pages of the Go heap (a byte more would cost a ninth): a
// 48 MP file is about 240 of them, so moving between them costs nothing
// measurable.
var jpegChunkSize = 64<<10 - jpegChunkHead

// jpegChunkAhead is how many chunks the filler reads past the furthest
// decoder once the split point is chosen.
const jpegChunkAhead = 2

// jpegChunkHead is the room before a chunk's data for the previous
// chunk's last bytes: a decoder asks for more input with up to one byte
// unread (an 0xFF the next byte explains), which it keeps in moving on.
const jpegChunkHead = 8

type jpegChunk struct {
	buf   []byte // head bytes of the previous chunk, then the data at off
	off   int    // where the data starts in buf
	head  int    // how many bytes before off repeat the previous chunk's end
	n     int    // data bytes read so far (final once the next chunk exists)
	start int64  // scan offset of the data's first byte
	st    jpegScanState
}

// jpegSplit is where the helper may start: at scan offset at, which comes
// after rst RSTn markers and stuffed 0xFF00 pairs.
type jpegSplit struct {
	ok           bool
	at           int64
	rst, stuffed int
}

// jpegChain is the chain of chunks, shared by the filler, the first
// decoder (reader 0) and the helper (reader 1). Everything is guarded by
// mu, except the filler's own scanning state (scan, cand, target) and the
// bytes of a chunk past its n, which only the filler touches.
type jpegChain struct {
	ctx    context.Context
	size   int   // chunk data size
	cap    int64 // most bytes held before the split point is chosen
	ri     bool  // restart intervals: the helper starts after an RSTn marker
	length int64 // the scan's length, as the source's length says

	mu      sync.Mutex
	wake    chan struct{} // closed and replaced when anything changes
	waiting bool          // someone waits on wake
	chunks  []*jpegChunk  // nil once dropped
	low     int           // chunks before low are dropped
	free    [][]byte      // dropped chunks' buffers, for the filler
	held    int64         // data bytes in chunks not dropped
	peak    int64         // the most held
	done    bool          // the source has ended; err says how
	err     error
	closed  bool

	pos     [2]int // each reader's chunk; -1 when it reads no more
	hi0     int    // the last chunk reader 0 may need
	retain  int    // chunks from here on are kept for reader 0 (-1: none)
	hold    int64  // the helper waits above this, while retained bytes are held for reader 0
	stopped bool   // the helper must stop
	synced  bool   // the helper has recorded every block the first decoder may meet it at

	decided bool // the split point is chosen (or there is none)
	split   jpegSplit
	end     int64 // the scan's end (its first marker other than RSTn), -1 until known

	// The filler's.
	scan   jpegScanState // over all bytes read
	ended  bool          // scan stopped at the scan's end
	target int64         // the middle, when the source's length is known; -1: not known
	cand   jpegSplit     // the split point found at or after target
	filled chan struct{} // closed when the filler returns
}

// errJPEGChain is a reader's error for input the chain no longer has, or
// more input asked for with more bytes unread than a chunk's head
// repeats: neither happens.
var errJPEGChain = errors.New("resize: jpeg: internal error: input dropped too soon")

// errJPEGStopped is what a reader of a closed chain, or a stopped helper,
// sees as the source's error: the decoder that closed it has its own.
var errJPEGStopped = errors.New("resize: jpeg: decoding stopped")

// newChain makes the rest of d's input a chain and starts its filler, if
// the source's length is known and half of the scan fits in hold bytes.
// It returns nil otherwise, d's input untouched.
func (d *jpegDecoder) newChain(ctx context.Context, hold int64) *jpegChain {
	s := &d.src
	rest := s.buf[s.i:s.j]
	length := int64(len(rest))
	reading := s.r != nil && s.err == nil
	if reading {
		l, ok := s.r.(interface{ Len() int })
		if !ok {
			// Unknown length: no way to know where the middle is
			// without holding the whole scan; one core streams it.
			return nil
		}
		length += int64(max(l.Len(), 0))
	}
	size := max(jpegChunkSize, 1)
	// After the split the chain may hold a few chunks more than at it
	// (decide, throttled): keep room for them.
	capacity := hold - int64((jpegChunkAhead+2)*size)
	if length < int64(jpegParBytes) || length/2+int64(2*size) > capacity {
		return nil
	}
	c := &jpegChain{
		ctx: ctx, size: size, cap: capacity, ri: d.ri > 0,
		length: length, wake: make(chan struct{}), end: -1, target: length / 2,
		pos: [2]int{0, -1}, hi0: math.MaxInt, retain: -1,
	}
	c.chunks = []*jpegChunk{{buf: rest, n: len(rest)}}
	c.held = int64(len(rest))
	c.peak = c.held
	c.scanBytes(rest)
	if reading {
		c.filled = make(chan struct{})
	} else {
		c.done, c.err = true, s.err
		if c.err == io.EOF {
			c.err = nil
		}
		if c.end < 0 {
			c.end = c.scan.off
		}
	}
	c.decide()
	r := s.r
	*s = jpegSource{chain: c, buf: rest, j: len(rest)}
	if c.filled != nil {
		go c.fill(r)
	}
	return c
}

// scanBytes follows newly read bytes: it looks for the split point at or
// after target, and for the scan's end.
func (c *jpegChain) scanBytes(b []byte) {
	for len(b) > 0 && !c.ended {
		off := c.scan.off
		found, end := c.scan.walk(b, c.target, c.ri)
		if end {
			c.ended = true
			c.mu.Lock()
			c.end = c.scan.off
			c.mu.Unlock()
			return
		}
		if found {
			c.cand = jpegSplit{ok: true, at: c.scan.off, rst: c.scan.lastN, stuffed: c.scan.stuffed}
			c.target = -1
		}
		b = b[c.scan.off-off:]
	}
}

// fill reads the source into the chain until it ends or the chain is
// closed.
func (c *jpegChain) fill(r io.Reader) {
	defer close(c.filled)
	idle := 0
	for {
		c.mu.Lock()
		ck := c.writable()
		c.mu.Unlock()
		if ck == nil {
			return
		}
		from := ck.off + ck.n
		k, err := r.Read(ck.buf[from : ck.off+c.size])
		if !c.decided {
			// Only the filler decides, so it reads this unlocked.
			c.scanBytes(ck.buf[from : from+k])
		}
		if k > 0 {
			idle = 0
		} else if err == nil {
			if idle++; idle > 100 {
				err = io.ErrNoProgress
			}
		}
		c.mu.Lock()
		ck.n += k
		c.held += int64(k)
		c.peak = max(c.peak, c.held)
		if err != nil {
			c.done = true
			if err != io.EOF {
				c.err = err
			}
			if c.end < 0 {
				c.end = ck.start + int64(ck.n)
			}
		}
		c.decide()
		c.notify()
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// writable is the chunk the filler reads into next, once it may: nil when
// the chain is closed. Called with mu held.
func (c *jpegChain) writable() *jpegChunk {
	for {
		if c.closed {
			return nil
		}
		last := c.chunks[len(c.chunks)-1]
		if last.off != 0 && last.n < c.size {
			return last
		}
		if !c.decided && c.held+int64(c.size) > c.cap {
			// The source is longer than it said: no split.
			c.decided = true
			c.hold = c.held
		}
		front := max(c.pos[0], c.pos[1])
		if !c.decided || len(c.chunks) <= front+jpegChunkAhead {
			return c.newChunk()
		}
		if err := c.wait(); err != nil {
			// The call is over: the readers see why.
			c.done, c.err = true, err
			return nil
		}
	}
}

// newChunk starts the next chunk, in a dropped chunk's buffer if there is
// one. Called with mu held.
func (c *jpegChain) newChunk() *jpegChunk {
	var b []byte
	if n := len(c.free); n > 0 {
		b, c.free = c.free[n-1], c.free[:n-1]
	} else {
		b = make([]byte, jpegChunkHead+c.size)
	}
	prev := c.chunks[len(c.chunks)-1]
	h := min(jpegChunkHead, prev.n)
	copy(b[jpegChunkHead-h:jpegChunkHead], prev.buf[prev.off+prev.n-h:prev.off+prev.n])
	ck := &jpegChunk{buf: b, off: jpegChunkHead, head: h, start: prev.start + int64(prev.n), st: c.scan}
	c.chunks = append(c.chunks, ck)
	return ck
}

// decide chooses the split point once it can: the one found at or after
// the middle, or, when the scan's end comes first (the source's length
// counts bytes after the image), the middle of what is left of the scan.
// Called with mu held.
func (c *jpegChain) decide() {
	if c.decided {
		return
	}
	if c.cand.ok {
		c.decided, c.split = true, c.cand
	} else if c.end >= 0 {
		c.decided = true
		c.split = c.findSplit()
	} else {
		return
	}
	// Room for the chunks the filler reads past the helper.
	c.hold = c.held + int64(jpegChunkAhead*c.size)
}

// findSplit looks for a split point in the middle of what is between the
// first decoder and the scan's end. Called with mu held, by the goroutine
// that scans (the filler, or newChain).
func (c *jpegChain) findSplit() jpegSplit {
	k := c.pos[0]
	a := c.chunks[k].start
	if a >= c.end {
		return jpegSplit{}
	}
	target := a + (c.end-a)/2
	st := c.chunks[k].st
	for ; k < len(c.chunks); k++ {
		ck := c.chunks[k]
		found, end := st.walk(ck.buf[ck.off:ck.off+ck.n], target, c.ri)
		if found {
			return jpegSplit{ok: true, at: st.off, rst: st.lastN, stuffed: st.stuffed}
		}
		if end {
			break
		}
	}
	if c.ri && st.lastRST > a {
		// No marker after the middle: the last one before it.
		return jpegSplit{ok: true, at: st.lastRST, rst: st.lastN}
	}
	return jpegSplit{}
}

// decision is the split point, once chosen.
func (c *jpegChain) decision() (jpegSplit, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.split, c.decided
}

// awaitDecision waits until the split point is chosen.
func (c *jpegChain) awaitDecision() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for !c.decided {
		if err := c.wait(); err != nil {
			return err
		}
	}
	return nil
}

// addHelper makes reader 1 a view of the chain from scan offset at. With
// retain, the bytes from there on are kept until release; otherwise the
// first decoder stops at at.
func (c *jpegChain) addHelper(at int64, retain bool) jpegSource {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := len(c.chunks) - 1
	for c.chunks[k].start > at {
		k--
	}
	ck := c.chunks[k]
	c.pos[1] = k
	if retain {
		c.retain = k
	} else {
		c.hi0 = k
	}
	c.notify()
	lead := ck.off + int(at-ck.start)
	return jpegSource{chain: c, id: 1, k: k, lead: lead, base: at, buf: ck.buf[lead : ck.off+ck.n], j: ck.off + ck.n - lead}
}

// release stops keeping the helper's bytes for the first decoder, which
// has met the helper or given up on it.
func (c *jpegChain) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.retain = -1
	c.drop()
	c.notify()
}

// park says the first decoder reads no more until it takes the helper's
// place (adopt).
func (c *jpegChain) park() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pos[0] = -1
	c.drop()
	c.notify()
}

// stopHelper wakes the helper if it waits for bytes and makes it see the
// end of its input.
func (c *jpegChain) stopHelper() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	c.notify()
}

// dropHelper forgets the helper, which has returned.
func (c *jpegChain) dropHelper() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pos[1], c.retain, c.hi0 = -1, -1, math.MaxInt
	c.drop()
	c.notify()
}

// adopt gives the first decoder the helper's input, where the helper (now
// returned) stopped: the first decoder reads on from there.
func (c *jpegChain) adopt(s *jpegSource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.id = 0
	c.pos[0], c.pos[1], c.retain, c.hi0 = s.k, -1, -1, math.MaxInt
	c.drop()
	c.notify()
}

// close stops the filler and waits for it.
func (c *jpegChain) close() {
	c.mu.Lock()
	c.closed = true
	c.notify()
	c.mu.Unlock()
	if c.filled != nil {
		<-c.filled
	}
	jpegChainDebug(c.peak, c.length)
}

// jpegChainDebug, for tests, hears the most bytes a chain held and the
// length it was told.
var jpegChainDebug = func(peak, length int64) {}

// needed reports whether a reader may still read chunk k. Called with mu
// held.
func (c *jpegChain) needed(k int) bool {
	return c.pos[0] >= 0 && k >= c.pos[0] && k <= c.hi0 ||
		c.pos[1] >= 0 && k >= c.pos[1] ||
		c.retain >= 0 && k >= c.retain
}

// drop lets go of the chunks no reader needs, keeping their buffers for
// the filler, which takes one before it makes one: the chunks' buffers
// never take more than the chain held at its most, and leave the GC no
// garbage to fall behind on. Called with mu held.
func (c *jpegChain) drop() {
	for k := c.low; k < len(c.chunks); k++ {
		c.dropChunk(k)
	}
	for c.low < len(c.chunks) && c.chunks[c.low] == nil {
		c.low++
	}
}

func (c *jpegChain) dropChunk(k int) {
	ck := c.chunks[k]
	if ck == nil || c.needed(k) || k == len(c.chunks)-1 {
		return
	}
	c.held -= int64(ck.n)
	if ck.off == jpegChunkHead && len(ck.buf) == jpegChunkHead+c.size {
		c.free = append(c.free, ck.buf)
	}
	c.chunks[k] = nil
}

// wait waits for a change, or for the context. Called with mu held, which
// it releases while waiting.
func (c *jpegChain) wait() error {
	ch := c.wake
	c.waiting = true
	c.mu.Unlock()
	var err error
	select {
	case <-ch:
	case <-c.ctx.Done():
		err = c.ctx.Err()
	}
	c.mu.Lock()
	return err
}

// notify wakes whoever waits. Called with mu held.
func (c *jpegChain) notify() {
	if c.waiting {
		close(c.wake)
		c.wake = make(chan struct{})
		c.waiting = false
	}
}

// throttled reports whether the helper must wait before reading a new
// chunk: it keeps bytes for the first decoder, and the chain holds more
// than at the split. Never while the first decoder, past the middle, may
// wait for the records it could meet the helper at. Called with mu held.
func (c *jpegChain) throttled() bool {
	return c.retain >= 0 && c.pos[0] >= 0 && c.held > c.hold &&
		(c.pos[0] < c.retain || c.synced)
}

// helperSynced says the helper has recorded every block the first decoder
// may meet it at.
func (c *jpegChain) helperSynced() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.synced = true
}

// moreChain is more() on a chain: it waits for bytes past s.j, moving to
// the next chunk when this one is read.
func (s *jpegSource) moreChain() bool {
	c := s.chain
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.closed || s.id == 1 && c.stopped {
			s.err = errJPEGStopped
			return false
		}
		ck := c.chunks[s.k]
		if ck == nil {
			s.err = errJPEGChain
			return false
		}
		if end := ck.off + ck.n; s.lead+s.j < end {
			s.buf = ck.buf[s.lead:end]
			s.j = len(s.buf)
			return true
		}
		if s.k+1 < len(c.chunks) && !(s.id == 1 && c.throttled()) {
			next := c.chunks[s.k+1]
			left := s.j - s.i
			if next == nil || left > next.head {
				s.err = errJPEGChain
				return false
			}
			s.k++
			s.lead = next.off - left
			s.buf = next.buf[s.lead : next.off+next.n]
			s.base = next.start - int64(left)
			s.i, s.j = 0, len(s.buf)
			c.pos[s.id] = s.k
			c.dropChunk(s.k - 1)
			for c.low < len(c.chunks) && c.chunks[c.low] == nil {
				c.low++
			}
			c.notify()
			if s.j > left {
				return true
			}
			continue
		}
		if c.done && s.k+1 >= len(c.chunks) {
			s.err = c.err
			if s.err == nil {
				s.err = io.EOF
			}
			return false
		}
		if err := c.wait(); err != nil {
			s.err = err
			return false
		}
	}
}

// jpegScanState follows a scan's bytes: what a split point needs to know
// about them, and where the scan ends.
type jpegScanState struct {
	off     int64 // scan offset of the next byte
	ff      bool  // the byte before off is an 0xFF that the next byte explains
	rst     int   // RSTn markers before off
	stuffed int   // 0xFF00 pairs before off
	lastRST int64 // the offset just after the last RSTn marker (0: none)
	lastN   int   // its index among the markers
}

// walk reads b, the bytes from st.off on. It stops early at the scan's
// end, the first marker other than RSTn (end: st.off is then the marker's
// 0xFF), or when target >= 0 at the first place at or after target where
// the helper may start (found): just after an RSTn marker with restart
// intervals (ri), else on a byte that neither is nor follows an 0xFF.
func (st *jpegScanState) walk(b []byte, target int64, ri bool) (found, end bool) {
	for i := 0; i < len(b); {
		if st.ff {
			c := b[i]
			st.off++
			i++
			switch {
			case c == 0:
				st.stuffed++
			case c == 0xff:
				continue // fill byte: the next one explains it
			case c >= jpegRST0 && c <= jpegRST7:
				st.lastRST, st.lastN = st.off, st.rst
				st.rst++
				st.ff = false
				if ri && target >= 0 && st.off >= target {
					return true, false
				}
				continue
			default:
				st.off -= 2 // back to the marker's 0xFF
				return false, true
			}
			st.ff = false
			continue
		}
		if !ri && target >= 0 && st.off >= target {
			if b[i] != 0xff {
				return true, false
			}
			st.off++
			i++
			st.ff = true
			continue
		}
		lim := len(b)
		if !ri && target >= 0 {
			lim = min(lim, i+int(target-st.off))
		}
		k := bytes.IndexByte(b[i:lim], 0xff)
		if k < 0 {
			st.off += int64(lim - i)
			i = lim
			continue
		}
		st.off += int64(k) + 1
		i += k + 1
		st.ff = true
	}
	return false, false
}
