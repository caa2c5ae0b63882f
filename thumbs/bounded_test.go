package thumbs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iron-thumbs/iron_thumbs/config"
	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
	"github.com/iron-thumbs/iron_thumbs/store"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

// tampering wraps a real store and alters what Get returns.
type tampering struct {
	thumbs.Store
	alter func(body []byte) []byte
}

func (s *tampering) Get(ctx context.Context, key string) (*store.Object, error) {
	obj, err := s.Store.Get(ctx, key)
	if err != nil || s.alter == nil {
		return obj, err
	}
	b, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	b = s.alter(b)
	obj.Body, obj.Size = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	return obj, nil
}

// TestDamagedHitIsRemade: a stored thumbnail whose bytes are not what its
// thumb-etag names is never served; it is made anew and stored again.
func TestDamagedHitIsRemade(t *testing.T) {
	e := newEnv(t, nil)
	var log bytes.Buffer
	ts := &tampering{Store: e.thumbs}
	h := thumbs.New(config.Default().Handler(), e.images, ts, slog.New(slog.NewTextHandler(&log, nil)))
	get := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/?filename=cat.png&size=90", nil))
		return w
	}
	whole := get()
	for name, alter := range map[string]func([]byte) []byte{
		"cut short":  func(b []byte) []byte { return b[:100] },
		"one bit":    func(b []byte) []byte { b[len(b)/2] ^= 1; return b },
		"other file": func([]byte) []byte { return []byte("not a thumbnail") },
	} {
		ts.alter = alter
		log.Reset()
		w := get()
		if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), whole.Body.Bytes()) || w.Header().Get("ETag") != whole.Header().Get("ETag") {
			t.Errorf("%s: %d, %d bytes; want the whole %d-byte thumbnail", name, w.Code, w.Body.Len(), whole.Body.Len())
		}
		if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "damaged") {
			t.Errorf("%s: not logged as a warning: %s", name, log.String())
		}
	}
}

// TestHitsWhileOriginalsChange: with freshness on and the original being
// replaced all the while, every thumbnail served carries the ETag of its
// own bytes.
func TestHitsWhileOriginalsChange(t *testing.T) {
	e := newEnv(t, func(o *thumbs.Options) { o.Freshness = true })
	pics := [][]byte{
		testimages.EncodePNG(testimages.Illustration(400, 400)),
		testimages.EncodePNG(testimages.Illustration(300, 300)),
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := filepath.Join(e.dir, "images", "cat.png")
			tmp := p + ".tmp"
			os.WriteFile(tmp, pics[i%2], 0o644)
			os.Rename(tmp, p)
			time.Sleep(time.Millisecond)
		}
	})
	var served atomic.Int32
	for range 4 {
		wg.Go(func() {
			for range 100 {
				w := e.get(t, "filename=cat.png&size=64")
				if w.Code != 200 {
					continue // the original mid-rename reads as missing
				}
				served.Add(1)
				sum := sha256.Sum256(w.Body.Bytes())
				if etag := `"` + hex.EncodeToString(sum[:16]) + `"`; w.Header().Get("ETag") != etag {
					t.Errorf("ETag %s on bytes hashing to %s", w.Header().Get("ETag"), etag)
					return
				}
			}
		})
	}
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	if served.Load() < 100 {
		t.Errorf("only %d thumbnails served", served.Load())
	}
}

// stalling blocks Put until its context ends, and records that it did.
type stalling struct {
	thumbs.Store
	ended atomic.Bool
}

func (s *stalling) Put(ctx context.Context, key string, body []byte, ct string, meta map[string]string) error {
	<-ctx.Done()
	s.ended.Store(true)
	return ctx.Err()
}

// TestStalledWriteIsAbandoned: a thumbs bucket that never finishes a write
// costs the client the write's own deadline, not the thumbnail.
func TestStalledWriteIsAbandoned(t *testing.T) {
	e := newEnv(t, nil)
	st := &stalling{Store: e.thumbs}
	var log bytes.Buffer
	h := thumbs.New(config.Default().Handler(), e.images, st, slog.New(slog.NewTextHandler(&log, nil)))
	start := time.Now()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/?filename=cat.png&size=90", nil))
	d := time.Since(start)
	if w.Code != 200 || !st.ended.Load() || !strings.Contains(log.String(), "storing thumbnail failed") {
		t.Errorf("%d, write ended %v, log %s", w.Code, st.ended.Load(), log.String())
	}
	if max := thumbs.StoreTimeout(w.Body.Len()) + time.Second; d > max {
		t.Errorf("answered after %v, want within the write's deadline (%v)", d, max)
	}
}

// waiting blocks Get of originals until its context ends, and records the
// context's end.
type waiting struct {
	thumbs.Store
	entered chan struct{}
	ended   chan error
}

func (s *waiting) Get(ctx context.Context, key string) (*store.Object, error) {
	s.entered <- struct{}{}
	<-ctx.Done()
	s.ended <- ctx.Err()
	return nil, ctx.Err()
}

// TestAbandonedTransformIsCancelled: when every caller of a shared
// transform has given up, the transform's context ends at once, so its
// work and its slot are freed, long before its own deadline.
func TestAbandonedTransformIsCancelled(t *testing.T) {
	e := newEnv(t, nil)
	ws := &waiting{Store: e.images, entered: make(chan struct{}, 1), ended: make(chan error, 1)}
	opts := config.Default().Handler()
	opts.CallTimeout = time.Minute
	opts.MaxTransforms = 1
	h := thumbs.New(opts, ws, e.thumbs, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/?filename=cat.png&size=50", nil).WithContext(ctx))
		})
	}
	<-ws.entered
	time.Sleep(50 * time.Millisecond) // both wait on the one transform
	cancel()
	wg.Wait()
	select {
	case <-ws.ended:
	case <-time.After(time.Second):
		t.Fatal("the transform went on after every caller gave up")
	}
	// The slot is free: the next miss gets it (and waits in Get until its
	// own deadline) instead of being refused 503.
	go func() { <-ws.entered; <-ws.ended }()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/?filename=cat.png&size=51", nil).WithContext(ctx2))
	if w.Code == 503 {
		t.Errorf("next miss refused: %s", w.Body)
	}
}

// TestLogLevels: what a client got wrong is INFO or WARN, what we or the
// storage got wrong is ERROR, and every call's line has its outcome.
func TestLogLevels(t *testing.T) {
	e := newEnv(t, nil)
	for _, c := range []struct {
		query, level string
	}{
		{"filename=nope.png&size=90", "INFO"},
		{"filename=cat.png&size=0", "INFO"},
		{"filename=not-an-image.png&size=90", "WARN"},
		{"filename=cat.png&size=90", "INFO"},
	} {
		e.log.Reset()
		e.get(t, c.query)
		line := e.log.String()
		if strings.Count(line, "\n") != 1 || !strings.Contains(line, "level="+c.level) || !strings.Contains(line, "outcome=") {
			t.Errorf("%s: log %q, want one %s line with the outcome", c.query, line, c.level)
		}
	}
	var log bytes.Buffer
	down := &failing{Store: e.images, err: fmt.Errorf("test: %w", store.ErrUnavailable)}
	h := thumbs.New(config.Default().Handler(), down, e.thumbs, slog.New(slog.NewTextHandler(&log, nil)))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/?filename=cat.png&size=70", nil))
	if !strings.Contains(log.String(), "level=ERROR") || !strings.Contains(log.String(), "outcome=error") {
		t.Errorf("storage down: log %q, want an ERROR line", log.String())
	}
}

// failing fails every Get with err.
type failing struct {
	thumbs.Store
	err error
}

func (s *failing) Get(context.Context, string) (*store.Object, error) { return nil, s.err }
