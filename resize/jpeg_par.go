package resize

import (
	"context"
	"runtime"
	"slices"
	"sync/atomic"
)

// Two-core decoding of a single-scan sequential file at 1/8 and 1/4, when
// the source's length is known (else one core streams it: the middle is
// not known until the whole scan is read, and holding it all is what this
// avoids). The scan's bytes go through a chain of chunks (jpeg_chain.go)
// that holds about half of them at most; a helper goroutine decodes the
// second half as it streams in while the caller's goroutine decodes the
// first, keeping for each block only what the scale uses (the DC, plus
// three AC coefficients at 1/4), within the other half of the budget.
//
// With restart intervals the helper starts at the first restart marker
// past the middle, whose MCU number is known. Without them it starts
// speculatively at the middle byte as if an MCU began there. Huffman codes
// resynchronise within a few blocks, so the first decoder, running past
// the middle, soon stands at a block start at the same bit position and
// block-in-MCU index as one the helper recorded: from there the helper's
// blocks are right, except that its DC predictors started at zero, which
// adding the first decoder's predictors at that point repairs. If they
// never meet, the first decoder finishes alone, from the bytes the chain
// kept for it.

// jpegParPixels is the size from which the second core is used; smaller
// images are not worth the goroutine. jpegParBytes is the least scan
// length to split. (Variables so that tests can split small files.)
var (
	jpegParPixels int64 = 1 << 20
	jpegParBytes        = 2048
)

// jpegParProcs is the least GOMAXPROCS to split at. (A variable so that
// the fuzz test can split on one: its goroutines then take turns only
// where they block, so that an input takes the same paths every run.)
var jpegParProcs = 2

// jpegAwaitSplit, for tests, makes the first decoder wait for the split
// point before it starts, so that the helper is used whatever the timing.
var jpegAwaitSplit = false

// jpegSyncBlocks bounds the helper's blocks the first decoder may meet it
// at: resynchronisation takes a few blocks, not thousands.
const jpegSyncBlocks = 4096

type jpegWorker struct {
	h *jpegDecoder // the helper's own decoder state

	known   bool // started at a restart marker: first block known
	gaveUp  bool // the first decoder no longer looks at it
	block0  int  // if known, the global block index of record 0
	posBase int64

	dc   []int16      // the DC predictor after each block, while all fit
	wide []int32      // all of them, once one does not (beyond 8-bit data)
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
	return (scale == 8 || scale == 4) && runtime.GOMAXPROCS(0) >= jpegParProcs &&
		int64(d.hdr.width)*int64(d.hdr.height) >= jpegParPixels && d.scan.n == d.ncomp
}

// decodeSplit is decodeStreaming on two cores.
func (d *jpegDecoder) decodeSplit(ctx context.Context, o *jpegOut, scale int, budget int64) error {
	if err := d.checkTables(); err != nil {
		return err
	}
	ch := d.newChain(ctx, budget/2)
	if ch == nil {
		return d.decodeStreaming(ctx, o, scale)
	}
	defer ch.close()
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
	defer func() {
		if w != nil {
			w.stop.Store(true)
			ch.stopHelper()
			<-w.done
		}
	}()
	// giveUp stops the helper: the first decoder decodes the rest.
	giveUp := func() {
		w.stop.Store(true)
		ch.stopHelper()
		<-w.done
		w.gaveUp = true
		w.dc, w.wide, w.ac = nil, nil, nil
		ch.dropHelper()
	}

	if jpegAwaitSplit {
		if err := ch.awaitDecision(); err != nil {
			return err
		}
	}
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
			// The helper starts once the filler has read to the
			// split point.
			if sp, ok := ch.decision(); ok {
				tried = true
				if sp.ok && my < d.mcuy-1 {
					w = d.startWorker(ch, sp, scale, bpm, total, gb, budget/2)
				}
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
						// The first decoder has read the marker the
						// helper started after: the rest is the
						// helper's, whole, or its error.
						if err := w.wait(ctx); err != nil {
							return err
						}
						if w.records() < total-gb {
							return w.failure()
						}
						handoff, rec0 = gb, 0
						ch.park()
					} else if !w.known && d.eobrun == 0 {
						if r, ok := w.meet(d.bitPos(), j, &syncIdx); ok {
							// From here on the helper decodes what
							// one decoder would: the bytes kept for
							// the first decoder can go.
							ch.park()
							ch.release()
							if err := w.wait(ctx); err != nil {
								return err
							}
							if w.records()-r < total-gb {
								return w.failure()
							}
							handoff, rec0 = gb, r
							offs = w.offsets(r, d.pred, compOf[:bpm])
						} else if syncIdx < 0 {
							giveUp()
						}
					}
				}
				c := &d.comps[sc.comp[i]]
				if handoff >= 0 {
					r := rec0 + gb - handoff
					blk[0] = (w.dcAt(r) + offs[i]) * ps[i].q[0]
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
		// The helper's blocks were all decoded cleanly; what follows
		// them is read from where the helper stopped, as one decoder
		// would have.
		d.src = w.h.src
		ch.adopt(&d.src)
		d.eobrun = w.h.eobrun
		d.wild = d.wild || w.h.wild
	}
	return d.finish(ctx)
}

// bitPos is the position of the next unread bit in the scan, counting
// unstuffed bits from the scan's start.
func (d *jpegDecoder) bitPos() int64 {
	return (d.src.base+int64(d.src.i)-int64(d.bits.stuffed))*8 - int64(d.bits.n)
}

// startWorker starts the helper at the split point, or returns nil when
// the first decoder is there already or the helper could not keep all
// the blocks it must.
func (d *jpegDecoder) startWorker(ch *jpegChain, sp jpegSplit, scale, bpm, total, gb int, budget int64) *jpegWorker {
	if d.src.base+int64(d.src.i)+16 >= sp.at {
		return nil
	}
	h := new(jpegDecoder)
	*h = *d
	h.rawHook = nil
	w := &jpegWorker{h: h, done: make(chan struct{})}
	mcu0 := 0
	if d.ri > 0 {
		// After the n-th marker (from 0) comes interval n+1.
		mcu0 = (sp.rst + 1) * d.ri
		if mcu0 >= d.mcux*d.mcuy || mcu0*bpm <= gb {
			return nil
		}
		w.known, w.block0 = true, mcu0*bpm
		// The first decoder stops at the marker: the helper must keep
		// every block after it.
		if int64(total-w.block0)*jpegRecordBytes(scale) > budget {
			return nil
		}
	} else {
		// The helper does not know its first block's index: it must be
		// able to keep every block, so that once the first decoder has
		// met it, it stops short only where the file is at fault.
		if int64(total)*jpegRecordBytes(scale) > budget {
			return nil
		}
		w.pos, w.jj = make([]int64, jpegSyncBlocks), make([]uint8, jpegSyncBlocks)
		// The helper's bitPos counts from the scan's start too, but not
		// the stuffed bytes before its start.
		w.posBase = -int64(sp.stuffed) * 8
	}
	h.src = ch.addHelper(sp.at, !w.known)
	h.bits = jpegBits{}
	h.pred = [4]int32{}
	h.eobrun = 0
	go w.run(scale, bpm, total, mcu0, budget)
	return w
}

// jpegRecordBytes is the most the helper holds for a block: its DC in 16
// bits and, while a DC that needs more moves them all to 32 bits, in 32
// too; at 1/4 three AC coefficients besides.
func jpegRecordBytes(scale int) int64 {
	if scale == 4 {
		return 2 + 4 + 6
	}
	return 2 + 4
}

func (w *jpegWorker) run(scale, bpm, total, mcu0 int, budget int64) {
	defer close(w.done)
	h := w.h
	ps, _, kmax := h.seqSetup(scale)
	var blk [64]int32
	sc := &h.scan
	compOf := make([]int, 0, bpm)
	for i := range sc.n {
		c := &h.comps[sc.comp[i]]
		compOf = append(compOf, slices.Repeat([]int{i}, c.h*c.v)...)
	}
	// At most the blocks after the start, and no more than the budget
	// holds: a block can cost a single bit, so the data does not bound
	// them. Past that the first decoder finishes alone.
	// The records are allocated at that limit, so they never regrow: a
	// regrowing slice holds its old array and its new one at once, past
	// what the budget counted. (Pages never written are never resident.)
	limit := int(min(int64(total-w.block0), budget/jpegRecordBytes(scale)))
	w.dc = make([]int16, 0, limit)
	if scale == 4 {
		w.ac = make([][3]int16, 0, limit)
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
			if n+1 == jpegSyncBlocks {
				h.src.chain.helperSynced()
			}
		}
		i := compOf[j]
		// A block it does not keep leaves no trace on what the first
		// decoder takes over at the end: without restart markers the
		// helper does not know where its blocks end, and tries one more
		// (into the padding past the scan's end, or what follows it).
		eobrun, wild := h.eobrun, h.wild
		// Unit quantisation: the helper keeps quantised values, which
		// fit in int16.
		if err := h.seqBlock(ps[i].dc, ps[i].ac, &h.pred[i], &blk, &jpegUnitQuant, &jpegPos[1], kmax); err != nil {
			w.err = err
			h.eobrun, h.wild = eobrun, wild
			return
		}
		if h.bits.overrun() {
			if w.known {
				w.err = h.shortData()
			}
			h.eobrun, h.wild = eobrun, wild
			return
		}
		w.putDC(h.pred[i])
		blk[0] = 0
		if scale == 4 {
			w.ac = append(w.ac, [3]int16{int16(blk[1]), int16(blk[2]), int16(blk[4])})
			blk[1], blk[2], blk[3], blk[4] = 0, 0, 0, 0
		}
	}
}

// failure is why the helper, in step with the first decoder, stopped
// short of the scan's last block: the file's fault (or the source's)
// where it stopped, as one decoder would have met it there.
func (w *jpegWorker) failure() error {
	if w.err != nil {
		return w.err
	}
	return w.h.shortData()
}

// putDC records a block's DC predictor: in 16 bits, as 8-bit data's DC
// values and their differences fit, until one does not.
func (w *jpegWorker) putDC(v int32) {
	if w.wide == nil {
		if int32(int16(v)) == v {
			w.dc = append(w.dc, int16(v))
			return
		}
		w.wide = make([]int32, len(w.dc), cap(w.dc))
		for i, x := range w.dc {
			w.wide[i] = int32(x)
		}
		w.dc = nil
	}
	w.wide = append(w.wide, v)
}

func (w *jpegWorker) dcAt(r int) int32 {
	if w.wide != nil {
		return w.wide[r]
	}
	return int32(w.dc[r])
}

// records is how many blocks the helper has recorded.
func (w *jpegWorker) records() int {
	if w.wide != nil {
		return len(w.wide)
	}
	return len(w.dc)
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
			before = w.dcAt(r - k)
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
			// Quit first: with a free row ready too, select would pick
			// at random and decode on for a consumer that is gone.
			select {
			case <-quit:
				return
			default:
			}
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
