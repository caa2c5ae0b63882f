package resize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
)

// chopReader serves data in Reads of at most limit(off) bytes, off being
// how many it has served, and says how many are left (Len), as a body of
// known size does.
type chopReader struct {
	data  []byte
	off   int
	limit func(off int) int
}

func (r *chopReader) Read(p []byte) (int, error) {
	if r.off == len(r.data) {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.limit(r.off))], r.data[r.off:])
	r.off += n
	return n, nil
}

func (r *chopReader) Len() int { return len(r.data) - r.off }

// scanStart is the offset of the first scan's entropy-coded data.
func scanStart(t testing.TB, data []byte) int {
	t.Helper()
	sos := bytes.Index(data, []byte{0xff, jpegSOS})
	if sos < 0 {
		t.Fatal("no SOS marker")
	}
	return sos + 2 + (int(data[sos+2])<<8 | int(data[sos+3]))
}

// splitReaders are the ways a source may deliver a file: all at once (in
// memory); the markers in small reads then the rest at once, so that even
// a small file's scan crosses the chain's chunks; one byte a Read; and the
// first half at once, then a byte a Read (the helper waits for each).
func splitReaders(t testing.TB, data []byte) map[string]func() io.Reader {
	start := scanStart(t, data)
	return map[string]func() io.Reader{
		"memory": func() io.Reader { return bytes.NewReader(data) },
		"head-trickle": func() io.Reader {
			return &chopReader{data: data, limit: func(off int) int {
				if off < start {
					return 16
				}
				return len(data)
			}}
		},
		"bytewise": func() io.Reader {
			return &chopReader{data: data, limit: func(int) int { return 1 }}
		},
		"slow-second-half": func() io.Reader {
			return &chopReader{data: data, limit: func(off int) int {
				if off < start+(len(data)-start)/2 {
					return len(data)
				}
				return 1
			}}
		},
	}
}

// decodeFrom decodes r at scale into packed rows (none on error).
func decodeFrom(ctx context.Context, r io.Reader, scale int) ([]byte, error) {
	d, err := newJPEGDecoder(r)
	if err != nil {
		return nil, err
	}
	inf := d.info()
	s := &collectSink{w: (inf.width + scale - 1) / scale, ch: 3}
	if inf.components == 1 {
		s.ch = 1
	}
	if err := d.decode(ctx, scale, 1<<30, s); err != nil {
		return nil, err // the rows before an error differ: one core decodes more of them
	}
	if s.bad {
		panic("sink got rows out of order")
	}
	return s.pix, nil
}

// forceSplit makes every size use two cores (on a machine that has
// them) and chunks of chunk bytes, until the returned func restores them.
func forceSplit(chunk int) func() {
	p, b, c := jpegParPixels, jpegParBytes, jpegChunkSize
	jpegParPixels, jpegParBytes, jpegChunkSize = 0, 0, chunk
	return func() { jpegParPixels, jpegParBytes, jpegChunkSize = p, b, c }
}

// oneCore decodes data at scale on one core.
func oneCore(t testing.TB, data []byte, scale int) ([]byte, error) {
	t.Helper()
	p := jpegParPixels
	jpegParPixels = 1 << 62
	defer func() { jpegParPixels = p }()
	return decodeFrom(context.Background(), bytes.NewReader(data), scale)
}

// splitPhotos are generated camera-like files for the split tests, drawn
// once: Photo (noise and all) and its smoothed form, at several qualities
// and sizes, 4:2:0 as image/jpeg writes colour, and one grey.
var splitPhotos = sync.OnceValue(func() map[string][]byte {
	m := map[string][]byte{}
	add := func(name string, img image.Image, q int) {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
			panic(err)
		}
		m[name] = b.Bytes()
	}
	add("photo-640x480-q90", testimages.Photo(640, 480, 3), 90)
	add("photo-333x517-q75", testimages.Photo(333, 517, 4), 75)
	add("smooth-1024x768-q95", smoothPhoto(1024, 768, 5), 95)
	add("smooth-777x301-q60", smoothPhoto(777, 301, 6), 60)
	p := testimages.Photo(500, 400, 7)
	g := image.NewGray(p.Rect)
	for y := range 400 {
		for x := range 500 {
			g.Set(x, y, color.GrayModel.Convert(p.At(x, y)))
		}
	}
	add("grey-500x400-q85", g, 85)
	return m
})

// TestJPEGSplitIdentical: the two-core path gives exactly what one core
// gives, on every fixture and on generated photos, at 1/8 and 1/4, with
// chunks from a byte to the default size and sources that deliver the
// file in every way splitReaders knows.
func TestJPEGSplitIdentical(t *testing.T) {
	twoProcs(t)
	files := map[string][]byte{}
	names, _ := filepath.Glob(filepath.Join("..", "testdata", "jpeg", "*.jpg"))
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := newJPEGDecoder(bytes.NewReader(b)); errors.Is(err, ErrUnsupported) {
			continue
		}
		files[filepath.Base(name)] = b
	}
	for name, b := range splitPhotos() {
		files[name] = b
	}
	// Every generated photo is one baseline scan: the two-core path must
	// have run on it, or this compares one core with one core.
	defer func(f func(int64, int64)) { jpegChainDebug = f }(jpegChainDebug)
	chains := 0
	jpegChainDebug = func(int64, int64) { chains++ }
	for name, data := range files {
		chains = 0
		for _, scale := range []int{8, 4} {
			want, wantErr := oneCore(t, data, scale)
			for _, chunk := range []int{1, 7, 300, 4096, jpegChunkSize} {
				if chunk < 64 && len(data) > 100<<10 {
					continue // a few seconds each, for nothing more
				}
				for how, r := range splitReaders(t, data) {
					if how == "bytewise" && len(data) > 100<<10 {
						continue
					}
					restore := forceSplit(chunk)
					got, err := decodeFrom(context.Background(), r(), scale)
					restore()
					if (err == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
						t.Errorf("%s 1/%d, %d-byte chunks, %s: %v (one core: %v), same pixels: %v",
							name, scale, chunk, how, err, wantErr, bytes.Equal(got, want))
					}
				}
			}
		}
		if _, generated := splitPhotos()[name]; generated && chains == 0 {
			t.Errorf("%s: never decoded on two cores", name)
		}
	}
}

// TestJPEGSplitHelperUsed: the helper's blocks are used, at restart
// markers and speculatively, whatever the chunk size (the first decoder
// waits for the split point, as it has no time to decode much before it
// when the source is quicker than decoding).
func TestJPEGSplitHelperUsed(t *testing.T) {
	twoProcs(t)
	defer func(f func(int, int, int)) { jpegDebug = f }(jpegDebug)
	handoff := -1
	jpegDebug = func(h, total, syncIdx int) { handoff = h }
	defer func() { jpegAwaitSplit = false }()
	jpegAwaitSplit = true
	for _, name := range []string{"rst-5.jpg", "rst-row.jpg", "rst-grey.jpg"} {
		data := readJPEGFixture(t, name)
		for _, chunk := range []int{1, 5, 64} {
			for _, scale := range []int{8, 4} {
				handoff = -2
				restore := forceSplit(chunk)
				_, err := decodeFrom(context.Background(), splitReaders(t, data)["head-trickle"](), scale)
				restore()
				if err != nil || handoff < 0 {
					t.Errorf("%s 1/%d, %d-byte chunks: %v, helper's blocks from %d", name, scale, chunk, err, handoff)
				}
			}
		}
	}
	data := bigJPEG()
	for _, chunk := range []int{512, 4096, 64 << 10} {
		handoff = -2
		restore := forceSplit(chunk)
		_, err := decodeFrom(context.Background(), bytes.NewReader(data), 8)
		restore()
		if err != nil || handoff < 0 {
			t.Errorf("big, %d-byte chunks: %v, helper's blocks from %d", chunk, err, handoff)
		}
	}
}

// unevenJPEG is a picture whose top 70% is flat and bottom full of noise:
// its bytes' middle lies deep in the noise, so the helper's half takes
// less time than the first decoder's many flat blocks, and the helper
// must wait for the first decoder rather than hold more bytes.
var unevenJPEG = sync.OnceValue(func() []byte {
	const w, h = 1536, 1024
	img := testimages.Photo(w, h, 9)
	for y := range h * 7 / 10 {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{120, 130, 140, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return b.Bytes()
})

// TestJPEGSplitHoldsHalf: the chain of chunks never holds much more than
// half the scan, however the work divides, and gives the same pixels.
func TestJPEGSplitHoldsHalf(t *testing.T) {
	twoProcs(t)
	defer func(f func(int64, int64)) { jpegChainDebug = f }(jpegChainDebug)
	var peak, length int64
	jpegChainDebug = func(p, l int64) { peak, length = p, l }
	for name, data := range map[string][]byte{"big": bigJPEG(), "uneven": unevenJPEG()} {
		want, err := oneCore(t, data, 8)
		if err != nil {
			t.Fatal(err)
		}
		for _, chunk := range []int{512, 2048} {
			for run := range 3 {
				peak = -1
				restore := forceSplit(chunk)
				got, err := decodeFrom(context.Background(), bytes.NewReader(data), 8)
				restore()
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s: %v, same pixels %v", name, err, bytes.Equal(got, want))
				}
				// Half, plus: the chunk read past the middle before
				// the split point is chosen, the room left for the
				// filler's chunks ahead, and what the filler may read
				// after the helper last moved on (finishing one chunk,
				// starting another), with one to spare.
				limit := length/2 + int64((1+jpegChunkAhead+2+1)*chunk)
				t.Logf("%s, %d-byte chunks: held up to %.3f of %d bytes", name, chunk, float64(peak)/float64(length), length)
				if peak < 0 || peak > limit {
					t.Errorf("%s, %d-byte chunks, run %d: held up to %d bytes of %d (%.2f), want at most %d",
						name, chunk, run, peak, length, float64(peak)/float64(length), limit)
				}
			}
		}
	}
}

// TestJPEGSplitUnknownLength: without the source's length there is no
// chain (one core streams), and the same pixels.
func TestJPEGSplitUnknownLength(t *testing.T) {
	defer func(f func(int64, int64)) { jpegChainDebug = f }(jpegChainDebug)
	chains := 0
	jpegChainDebug = func(p, l int64) { chains++ }
	data := bigJPEG()
	want, err := oneCore(t, data, 8)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeFrom(context.Background(), io.MultiReader(bytes.NewReader(data)), 8)
	if err != nil || !bytes.Equal(got, want) || chains != 0 {
		t.Errorf("%v, same pixels %v, %d chains", err, bytes.Equal(got, want), chains)
	}
}

// lenLie says its source has delta more bytes left than it has.
type lenLie struct {
	*bytes.Reader
	delta int
}

func (l lenLie) Len() int { return l.Reader.Len() + l.delta }

// TestJPEGSplitWrongLength: a length that is wrong (a store's stale
// size, or bytes after the image such as a phone's motion-photo video)
// moves the split point, never the pixels; bytes after the image still
// let the helper start, in the middle of the scan.
func TestJPEGSplitWrongLength(t *testing.T) {
	twoProcs(t)
	defer func(f func(int, int, int)) { jpegDebug = f }(jpegDebug)
	handoff := -1
	jpegDebug = func(h, total, syncIdx int) { handoff = h }
	defer func() { jpegAwaitSplit = false }()
	jpegAwaitSplit = true
	data := bigJPEG()
	trailer := append(bytes.Clone(data), make([]byte, 3*len(data))...)
	for _, scale := range []int{8, 4} {
		want, err := oneCore(t, data, scale)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name     string
			r        io.Reader
			mustHelp bool
		}{
			{"too short", lenLie{bytes.NewReader(data), -len(data) / 3}, true},
			{"too long", lenLie{bytes.NewReader(data), len(data)}, true},
			{"far too long", lenLie{bytes.NewReader(data), 1 << 40}, false},
			{"negative", lenLie{bytes.NewReader(data), -2 * len(data)}, false},
			{"trailer", bytes.NewReader(trailer), true},
		} {
			handoff = -2
			restore := forceSplit(16 << 10)
			got, err := decodeFrom(context.Background(), c.r, scale)
			restore()
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("1/%d %s: %v, same pixels %v", scale, c.name, err, bytes.Equal(got, want))
			}
			if c.mustHelp && handoff < 0 {
				t.Errorf("1/%d %s: helper not used (%d)", scale, c.name, handoff)
			}
		}
	}
}

// lenErrReader serves data up to off, then fails with err; it says the
// whole file is coming (Len).
type lenErrReader struct {
	errAfterReader
	left int
}

func (r *lenErrReader) Read(p []byte) (int, error) {
	n, err := r.errAfterReader.Read(p)
	r.left -= n
	return n, err
}

func (r *lenErrReader) Len() int { return r.left }

// TestJPEGSplitSourceFailure: a source failing anywhere in the scan, on
// two cores, gives its own error back, never ErrCorrupt; a file that
// simply ends there is ErrCorrupt.
func TestJPEGSplitSourceFailure(t *testing.T) {
	twoProcs(t)
	boom := errors.New("connection reset")
	for _, name := range []string{"big", "rst-5.jpg"} {
		data := bigJPEG()
		if name != "big" {
			data = readJPEGFixture(t, name)
		}
		start := scanStart(t, data)
		for _, chunk := range []int{3, 1000, 64 << 10} {
			for _, frac := range []float64{0.02, 0.3, 0.49, 0.51, 0.7, 0.98} {
				off := start + int(frac*float64(len(data)-start))
				for _, scale := range []int{8, 4} {
					restore := forceSplit(chunk)
					r := &lenErrReader{errAfterReader{data: data, off: off, err: boom}, len(data)}
					_, err := decodeFrom(context.Background(), r, scale)
					_, cut := decodeFrom(context.Background(), bytes.NewReader(data[:off]), scale)
					restore()
					if !errors.Is(err, boom) || errors.Is(err, ErrCorrupt) {
						t.Errorf("%s failing at %d, 1/%d, %d-byte chunks: %v, want the reader's error", name, off, scale, chunk, err)
					}
					if !errors.Is(cut, ErrCorrupt) {
						t.Errorf("%s cut at %d, 1/%d, %d-byte chunks: %v, want ErrCorrupt", name, off, scale, chunk, cut)
					}
				}
			}
		}
	}
}

// stallReader serves data up to off, then blocks as a network body does
// until its request's context ends, and fails with the context's error.
type stallReader struct {
	ctx  context.Context
	data []byte
	off  int
	left int
}

func (r *stallReader) Read(p []byte) (int, error) {
	if r.off == 0 {
		<-r.ctx.Done()
		return 0, r.ctx.Err()
	}
	n := copy(p[:min(len(p), r.off)], r.data)
	r.data, r.off, r.left = r.data[n:], r.off-n, r.left-n
	return n, nil
}

func (r *stallReader) Len() int { return r.left }

// noLeak waits for goroutines above before to end, up to a generous 5 s
// (a loaded machine, or the race detector, can be slow to schedule them),
// and reports the ones left.
func noLeak(t *testing.T, what string, before int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%s: %d goroutines after decode, %d before:\n%s", what, n, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestJPEGSplitCancel: cancelled mid-way, on two cores, decoding stops
// promptly with context.Canceled and leaves no goroutine behind: after a
// band (with small chunks), and while the source stalls before the split
// point, after it, and in the helper's half.
func TestJPEGSplitCancel(t *testing.T) {
	twoProcs(t)
	data := bigJPEG()
	for _, chunk := range []int{700, 64 << 10} {
		for _, scale := range []int{8, 4} {
			before := runtime.NumGoroutine()
			restore := forceSplit(chunk)
			ctx, cancel := context.WithCancel(context.Background())
			d, err := newJPEGDecoder(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			s := &cancelSink{cancel: cancel}
			err = d.decode(ctx, scale, 1<<30, s)
			cancel()
			restore()
			if !errors.Is(err, context.Canceled) || s.bands > 2 {
				t.Errorf("1/%d, %d-byte chunks: %v after %d bands, want context.Canceled after at most 2", scale, chunk, err, s.bands)
			}
			noLeak(t, fmt.Sprintf("1/%d, %d-byte chunks", scale, chunk), before)
		}
	}
	start := scanStart(t, data)
	for _, frac := range []float64{0.1, 0.45, 0.55, 0.9} {
		before := runtime.NumGoroutine()
		restore := forceSplit(4096)
		ctx, cancel := context.WithCancel(context.Background())
		off := start + int(frac*float64(len(data)-start))
		r := &stallReader{ctx: ctx, data: data, off: off, left: len(data)}
		done := make(chan error, 1)
		go func() {
			_, err := decodeFrom(ctx, r, 8)
			done <- err
		}()
		time.Sleep(20 * time.Millisecond)
		cancel()
		var err error
		select {
		case err = <-done:
		case <-time.After(2 * time.Second):
			t.Fatalf("stalled at %.2f: decode still running 2 s after cancel", frac)
		}
		restore()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("stalled at %.2f: %v, want context.Canceled", frac, err)
		}
		noLeak(t, fmt.Sprintf("stalled at %.2f", frac), before)
	}
}
