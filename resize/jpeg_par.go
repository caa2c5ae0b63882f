package resize

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"sync/atomic"
)

// Two-core decoding of a single-scan sequential file at 1/8 and 1/4. The
// scan's bytes are read into memory, if they fit in half the decode
// budget (else decoding streams on one core), and a helper goroutine
// decodes the second half while the caller's goroutine decodes the first,
// keeping for each block only what the scale uses (the DC, plus three AC
// coefficients at 1/4), within the other half of the budget.
//
// With restart intervals the helper starts at the restart marker nearest
// the middle, whose MCU number is known. Without them it starts
// speculatively at the middle byte as if an MCU began there. Huffman codes
// resynchronise within a few blocks, so the first decoder, running past
// the middle, soon stands at a block start at the same bit position and
// block-in-MCU index as one the helper recorded: from there the helper's
// blocks are right, except that its DC predictors started at zero, which
// adding the first decoder's predictors at that point repairs. If they
// never meet, the first decoder finishes alone.

// jpegParPixels is the size from which the second core is used; smaller
// images are not worth the goroutine. jpegParBytes is the least scan
// length to split. (Variables so that tests can split small files.)
var (
	jpegParPixels int64 = 1 << 20
	jpegParBytes        = 2048
)

// jpegSyncBlocks bounds the helper's blocks the first decoder may meet it
// at: resynchronisation takes a few blocks, not thousands.
const jpegSyncBlocks = 4096

type jpegWorker struct {
	h *jpegDecoder // the helper's own decoder state

	known   bool // started at a restart marker: first block known
	gaveUp  bool // the first decoder no longer looks at it
	block0  int  // if known, the global block index of record 0
	posBase int64

	dc   []int32
	ac   [][3]int16   // 1/4 only: zigzag 1, 2, 4, quantised
	pos  []int64      // bit position of the first records' block starts (-1: unusable)
	jj   []uint8      // their block-in-MCU index
	npos atomic.Int64 // how many of pos and jj are written
	done chan struct{}
	stop atomic.Bool
	err  error
}

// canSplit reports whether decodeStreaming should use two cores.
func (d *jpegDecoder) canSplit(scale int) bool {
	return (scale == 8 || scale == 4) && runtime.GOMAXPROCS(0) >= 2 &&
		int64(d.hdr.width)*int64(d.hdr.height) >= jpegParPixels && d.scan.n == d.ncomp
}

// slurp makes the rest of the input a byte slice in d.src.buf, the
// scan's start at offset 0, if it fits in budget bytes. A reader that
// knows its length (bytes.Reader and the like: it never blocks) is read
// on a filler goroutine while decoding starts, into one allocation;
// another is read here. ok is false when the input is longer than the
// budget: what was read then stays buffered and decoding streams on.
func (d *jpegDecoder) slurp(budget int64) (f *jpegFill, ok bool, err error) {
	s := &d.src
	rest := s.buf[s.i:s.j]
	if s.r == nil || s.err != nil {
		s.buf, s.i, s.j = rest, 0, len(rest)
		return nil, true, nil
	}
	if l, ok := s.r.(interface{ Len() int }); ok {
		size := int64(len(rest)) + int64(l.Len()) + 512
		if size > budget {
			return nil, false, nil
		}
		buf := make([]byte, size)
		f = &jpegFill{buf: buf, progress: make(chan struct{}, 1), done: make(chan struct{})}
		copy(buf, rest)
		f.n.Store(int64(len(rest)))
		go f.run(s.r, len(rest))
		s.buf, s.i, s.j, s.r, s.fill = buf, 0, len(rest), nil, f
		return f, true, nil
	}
	b := bytes.NewBuffer(append(make([]byte, 0, len(rest)+64<<10), rest...))
	if _, err := b.ReadFrom(io.LimitReader(s.r, budget-int64(len(rest)))); err != nil {
		return nil, false, jpegSourceErr(err)
	}
	s.buf, s.i, s.j = b.Bytes(), 0, b.Len()
	if int64(b.Len()) >= budget {
		return nil, false, nil
	}
	s.r = nil
	if s.err == nil {
		s.err = io.EOF
	}
	return nil, true, nil
}

// jpegFill is the filler goroutine's buffer: buf[:n] is read.
type jpegFill struct {
	buf      []byte
	n        atomic.Int64
	err      error         // the reader's failure, set before done closes
	progress chan struct{} // a token after each read
	done     chan struct{}
}

func (f *jpegFill) run(r io.Reader, n int) {
	defer close(f.done)
	for idle := 0; ; {
		if n == len(f.buf) {
			f.err = errors.New("resize: jpeg source returned more than its Len")
			return
		}
		k, err := r.Read(f.buf[n:min(n+256<<10, len(f.buf))])
		n += k
		f.n.Store(int64(n))
		select {
		case f.progress <- struct{}{}:
		default:
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			f.err = err
			return
		}
		if k == 0 {
			if idle++; idle > 100 {
				f.err = io.ErrNoProgress
				return
			}
		}
	}
}

func (f *jpegFill) complete() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// wait is more() for a source being filled: it waits for bytes past s.j.
func (s *jpegSource) waitFill() bool {
	f := s.fill
	for {
		if n := int(f.n.Load()); n > s.j {
			s.j = n
			return true
		}
		select {
		case <-f.progress:
		case <-f.done:
			if int(f.n.Load()) > s.j {
				continue
			}
			s.fill = nil
			s.err = f.err
			if s.err == nil {
				s.err = io.EOF
			}
			return false
		}
	}
}

// scanEnd is the offset of the first marker other than RSTn at or after
// from: where the scan's entropy-coded data ends.
func scanEnd(data []byte, from int) int {
	for i := from; ; {
		k := bytes.IndexByte(data[i:], 0xff)
		if k < 0 {
			return len(data)
		}
		i += k
		if i+1 >= len(data) {
			return len(data)
		}
		if m := data[i+1]; m != 0 && m != 0xff && (m < jpegRST0 || m > jpegRST7) {
			return i
		}
		i++
	}
}

// decodeSplit is decodeStreaming on two cores.
func (d *jpegDecoder) decodeSplit(ctx context.Context, o *jpegOut, scale int, budget int64) error {
	if err := d.checkTables(); err != nil {
		return err
	}
	fill, ok, err := d.slurp(budget / 2)
	if err != nil {
		return err
	}
	if !ok {
		return d.decodeStreaming(ctx, o, scale)
	}
	if fill != nil {
		// The filler never blocks (its reader is in memory); it is
		// done soon after the last byte.
		defer func() { <-fill.done }()
	}
	sc := &d.scan
	bpm := 0
	var compOf [40]int
	var bxOf, byOf [40]int
	for i := range sc.n {
		c := &d.comps[sc.comp[i]]
		for by := range c.v {
			for bx := range c.h {
				compOf[bpm], bxOf[bpm], byOf[bpm] = i, bx, by
				bpm++
			}
		}
	}
	total := d.mcux * d.mcuy * bpm
	var w *jpegWorker
	tried := false
	end, scanned := -1, 0
	defer func() {
		if w != nil {
			w.stop.Store(true)
			<-w.done
		}
	}()

	ps, pos, kmax := d.seqSetup(scale)
	var blk [64]int32
	handoff, rec0 := -1, 0
	var offs [4]int32
	syncIdx := 0
	rst, mcu, gb := 0, 0, 0
	for my := range d.mcuy {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !tried {
			// Once the scan's bytes are all in, the helper takes the
			// second half of what is left.
			filled := d.src.j
			if fill != nil {
				filled = int(fill.n.Load())
			}
			if e := scanEnd(d.src.buf[:filled], max(scanned, d.src.i)); e < filled || fill == nil || fill.complete() {
				if e >= filled {
					d.src.waitFillDone()
					filled = d.src.j
					e = scanEnd(d.src.buf[:filled], max(scanned, d.src.i))
				}
				tried, end = true, e
				if my < d.mcuy-1 {
					w = d.startWorker(d.src.buf[:filled], d.src.i, end, scale, bpm, total, total-gb, budget/2)
				}
			} else {
				scanned = max(filled-1, 0)
			}
		}
		for mx := range d.mcux {
			if handoff < 0 && d.ri > 0 && mcu > 0 && mcu%d.ri == 0 {
				if err := d.restart(&rst); err != nil {
					return err
				}
			}
			for j := range bpm {
				i := compOf[j]
				if handoff < 0 && w != nil && !w.gaveUp {
					if w.known && gb == w.block0 {
						if err := w.wait(ctx); err != nil {
							return err
						}
						if len(w.dc) >= total-gb {
							handoff, rec0 = gb, 0
						} else {
							w.gaveUp = true
						}
					} else if !w.known && d.eobrun == 0 {
						if r, ok := w.meet(d.bitPos(), j, &syncIdx); ok {
							if err := w.wait(ctx); err != nil {
								return err
							}
							if len(w.dc)-r >= total-gb {
								handoff, rec0 = gb, r
								offs = w.offsets(r, d.pred, compOf[:bpm])
							} else {
								w.gaveUp = true
							}
						} else if syncIdx < 0 {
							w.stop.Store(true)
							w.gaveUp = true
						}
					}
				}
				c := &d.comps[sc.comp[i]]
				if handoff >= 0 {
					r := rec0 + gb - handoff
					blk[0] = (w.dc[r] + offs[i]) * ps[i].q[0]
					if scale == 4 {
						a := &w.ac[r]
						blk[1] = int32(a[0]) * ps[i].q[1]
						blk[2] = int32(a[1]) * ps[i].q[2]
						blk[4] = int32(a[2]) * ps[i].q[4]
					}
				} else if err := d.seqBlock(ps[i].dc, ps[i].ac, &d.pred[i], &blk, ps[i].q, pos, kmax); err != nil {
					return err
				}
				o.put(sc.comp[i], mx*c.h+bxOf[j], byOf[j], &blk)
				gb++
			}
			mcu++
			if handoff < 0 && d.bits.overrun() {
				return d.shortData()
			}
		}
		o.flush()
	}
	jpegDebug(handoff, total, syncIdx)
	if handoff >= 0 {
		// The helper's blocks were all decoded cleanly; what it met
		// after them (trailing bytes, or the data's end) is no error of
		// the image's.
		d.src.waitFillDone()
		d.src.i = end
		d.eobrun = w.h.eobrun
		d.wild = d.wild || w.h.wild
	}
	return d.finish(ctx)
}

// bitPos is the position of the next unread bit in the scan, counting
// unstuffed bits from the scan's start (src.buf offset 0 in split mode is
// the scan's start).
func (d *jpegDecoder) bitPos() int64 {
	return (int64(d.src.i)-int64(d.bits.stuffed))*8 - int64(d.bits.n)
}

// startWorker starts the helper on the second half, or returns nil when
// the scan is too short to split.
func (d *jpegDecoder) startWorker(data []byte, from, end, scale, bpm, total, left int, budget int64) *jpegWorker {
	mid := from + (end-from)/2
	if mid <= from || end-from < jpegParBytes {
		return nil
	}
	h := new(jpegDecoder)
	*h = *d
	h.rawHook = nil
	h.src.fill = nil
	w := &jpegWorker{h: h, done: make(chan struct{})}
	if d.ri == 0 {
		w.pos, w.jj = make([]int64, jpegSyncBlocks), make([]uint8, jpegSyncBlocks)
	}
	mcu0 := 0
	if d.ri > 0 {
		// The restart marker nearest the middle; its interval number
		// is the count of markers before it.
		n, best, bestN := 0, -1, 0
		for q := 0; q+1 < end; q++ {
			if data[q] != 0xff || data[q+1] < jpegRST0 || data[q+1] > jpegRST7 {
				continue
			}
			if q > from+2 && (best < 0 || max(q-mid, mid-q) < max(best-mid, mid-best)) {
				best, bestN = q, n
			}
			n++
		}
		if best < 0 {
			return nil
		}
		mid = best + 2
		mcu0 = (bestN + 1) * d.ri // the n-th marker (from 0) ends interval n
		if mcu0 >= d.mcux*d.mcuy {
			return nil
		}
		w.known, w.block0 = true, mcu0*bpm
	} else {
		for mid < end && (data[mid-1] == 0xff || data[mid] == 0xff) {
			mid++
		}
		// The helper's bitPos counts from the buffer's start too, but
		// not the stuffed bytes before its start.
		w.posBase = -int64(bytes.Count(data[:mid], []byte{0xff, 0})) * 8
	}
	h.src = jpegSource{buf: data[:end], i: mid, j: end}
	h.bits = jpegBits{}
	h.pred = [4]int32{}
	h.eobrun = 0
	go w.run(scale, bpm, total, mcu0, left, budget)
	return w
}

func (w *jpegWorker) run(scale, bpm, total, mcu0, left int, budget int64) {
	defer close(w.done)
	h := w.h
	ps, _, kmax := h.seqSetup(scale)
	var blk [64]int32
	sc := &h.scan
	compOf := make([]int, 0, bpm)
	for i := range sc.n {
		c := &h.comps[sc.comp[i]]
		compOf = append(compOf, slicesRepeat(i, c.h*c.v)...)
	}
	// At most the blocks after the start, and no more than the budget
	// holds: a block can cost a single bit, so the data does not bound
	// them. Past that the first decoder finishes alone.
	limit := total - w.block0
	per := int64(4)
	if scale == 4 {
		per += 6
	}
	limit = int(min(int64(limit), budget/per))
	// It starts halfway through the bytes left, so expect about half
	// the blocks left, with some room: regrowing copies.
	expect := min(limit, left*5/8+1024)
	w.dc = make([]int32, 0, expect)
	if scale == 4 {
		w.ac = make([][3]int16, 0, expect)
	}
	rst := (mcu0 / max(h.ri, 1)) & 7
	for n := 0; n < limit; n++ {
		j := n % bpm
		if n&1023 == 0 && w.stop.Load() {
			return
		}
		if w.known && j == 0 && h.ri > 0 {
			if mcu := mcu0 + n/bpm; mcu > mcu0 && mcu%h.ri == 0 {
				if err := h.restart(&rst); err != nil {
					w.err = err
					return
				}
			}
		}
		if !w.known && n < jpegSyncBlocks {
			p := int64(-1)
			if h.eobrun == 0 {
				p = w.posBase + h.bitPos()
			}
			w.pos[n], w.jj[n] = p, uint8(j)
			w.npos.Store(int64(n + 1))
		}
		i := compOf[j]
		// Unit quantisation: the helper keeps quantised values, which
		// fit in int16.
		if err := h.seqBlock(ps[i].dc, ps[i].ac, &h.pred[i], &blk, &jpegUnitQuant, &jpegPos[1], kmax); err != nil {
			w.err = err
			return
		}
		if h.bits.overrun() {
			if w.known {
				w.err = h.shortData()
			}
			return
		}
		w.dc = append(w.dc, h.pred[i])
		blk[0] = 0
		if scale == 4 {
			w.ac = append(w.ac, [3]int16{int16(blk[1]), int16(blk[2]), int16(blk[4])})
			blk[1], blk[2], blk[3], blk[4] = 0, 0, 0, 0
		}
	}
}

func slicesRepeat(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// meet looks for the helper's record at bit position p with block index
// j. *idx walks forward through the records; it becomes -1 when they are
// exhausted without a meeting. Past the helper's latest record it waits
// for the helper, which is busy recording: skipping ahead would miss the
// meeting.
func (w *jpegWorker) meet(p int64, j int, idx *int) (int, bool) {
	if *idx < 0 {
		return 0, false
	}
	for {
		fin := w.finished() // before the snapshot, so that it is final
		n := w.snapshot()
		for *idx < n && w.pos[*idx] < p {
			(*idx)++
		}
		if *idx < n {
			if w.pos[*idx] == p && int(w.jj[*idx]) == j {
				return *idx, true
			}
			return 0, false
		}
		if n >= jpegSyncBlocks || fin {
			*idx = -1
			return 0, false
		}
		runtime.Gosched()
	}
}

var jpegUnitQuant = func() (q [64]int32) {
	for i := range q {
		q[i] = 1
	}
	return q
}()

// wait waits for the helper to finish, or for ctx.
func (w *jpegWorker) wait(ctx context.Context) error {
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *jpegWorker) snapshot() int { return int(w.npos.Load()) }

func (w *jpegWorker) finished() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// offsets are what to add to the helper's DC values from record r on:
// the first decoder's predictors minus the helper's just before r.
func (w *jpegWorker) offsets(r int, pred [4]int32, compOf []int) (o [4]int32) {
	bpm := len(compOf)
	j := int(w.jj[r])
	var seen [4]bool
	for k := 1; k <= bpm; k++ {
		i := compOf[(j-k%bpm+bpm)%bpm]
		if seen[i] {
			continue
		}
		seen[i] = true
		var before int32
		if r-k >= 0 {
			before = w.dc[r-k]
		}
		o[i] = pred[i] - before
	}
	return o
}

// jpegDebug, for tests, hears where the helper's blocks took over (-1:
// never).
var jpegDebug = func(handoff, total, syncIdx int) {}

// canPipeline reports whether decodeStreaming at 1/2 or 1/1 should
// entropy-decode on a second goroutine while the caller's runs the IDCT
// and colour conversion: there a block's coefficients are too many to
// keep for the whole second half of the image, but a few MCU rows of
// them are small (and must fit in the budget).
func (d *jpegDecoder) canPipeline(scale int, budget int64) bool {
	bpm := 0
	for i := range d.scan.n {
		bpm += d.comps[d.scan.comp[i]].h * d.comps[d.scan.comp[i]].v
	}
	return (scale == 1 || scale == 2) && runtime.GOMAXPROCS(0) >= 2 &&
		int64(d.hdr.width)*int64(d.hdr.height) >= jpegParPixels &&
		int64(jpegRowBufs)*int64(d.mcux)*int64(bpm)*256 <= budget
}

// jpegRowBufs is how many MCU rows of coefficients the pipeline holds.
const jpegRowBufs = 3

type jpegCoefRow struct {
	blk []([64]int32) // mcux * blocks an MCU
	err error         // set on the last row sent when decoding failed
}

// decodePipelined is decodeStreaming with entropy decoding on its own
// goroutine, handing over one MCU row of coefficients at a time.
func (d *jpegDecoder) decodePipelined(ctx context.Context, o *jpegOut, scale int) error {
	if err := d.checkTables(); err != nil {
		return err
	}
	sc := &d.scan
	bpm := 0
	var compOf, bxOf, byOf [40]int
	for i := range sc.n {
		c := &d.comps[sc.comp[i]]
		for by := range c.v {
			for bx := range c.h {
				compOf[bpm], bxOf[bpm], byOf[bpm] = i, bx, by
				bpm++
			}
		}
	}
	full := make(chan *jpegCoefRow, jpegRowBufs)
	free := make(chan *jpegCoefRow, jpegRowBufs)
	for range jpegRowBufs {
		free <- &jpegCoefRow{blk: make([][64]int32, d.mcux*bpm)}
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	defer func() {
		close(quit)
		<-done
	}()
	go func() {
		defer close(done)
		defer close(full)
		ps, pos, kmax := d.seqSetup(scale)
		rst, mcu := 0, 0
		for range d.mcuy {
			var row *jpegCoefRow
			select {
			case row = <-free:
			case <-quit:
				return
			}
			for mx := range d.mcux {
				if d.ri > 0 && mcu > 0 && mcu%d.ri == 0 {
					if row.err = d.restart(&rst); row.err != nil {
						break
					}
				}
				for j := range bpm {
					i := compOf[j]
					blk := &row.blk[mx*bpm+j]
					if row.err = d.seqBlock(ps[i].dc, ps[i].ac, &d.pred[i], blk, ps[i].q, pos, kmax); row.err != nil {
						break
					}
				}
				if row.err != nil {
					break
				}
				mcu++
				if d.bits.overrun() {
					row.err = d.shortData()
					break
				}
			}
			select {
			case full <- row:
			case <-quit:
				return
			}
			if row.err != nil {
				return
			}
		}
	}()
	for range d.mcuy {
		if err := ctx.Err(); err != nil {
			return err
		}
		row, ok := <-full
		if !ok {
			return jpegCorrupt("pipeline ended early") // not reached: errors come in a row
		}
		if row.err != nil {
			return row.err
		}
		for mx := range d.mcux {
			for j := range bpm {
				i := sc.comp[compOf[j]]
				o.put(i, mx*d.comps[i].h+bxOf[j], byOf[j], &row.blk[mx*bpm+j])
			}
		}
		o.flush()
		free <- row
	}
	<-done // the decoder's state is ours again
	return d.finish(ctx)
}

// waitFillDone waits for the filler to finish and takes all it read.
func (s *jpegSource) waitFillDone() {
	for s.fill != nil {
		s.waitFill()
	}
}
