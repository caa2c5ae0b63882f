package thumbs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iron-thumbs/iron_thumbs/config"
	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
	"github.com/iron-thumbs/iron_thumbs/store"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
	"github.com/iron-thumbs/iron_thumbs/urlsig"
)

// gated wraps a real store: Get waits until the gate opens, and counts.
type gated struct {
	thumbs.Store
	gate  chan struct{}
	gets  atomic.Int32
	enter chan struct{}
}

func (g *gated) Get(ctx context.Context, key string) (*store.Object, error) {
	g.gets.Add(1)
	g.enter <- struct{}{}
	<-g.gate
	return g.Store.Get(ctx, key)
}

func TestSignedURLs(t *testing.T) {
	key := "s3cr3t-signing-key"
	e := newEnv(t, func(c *thumbs.Options) { c.SigningKey = key })
	now := time.Now()
	good := urlsig.Query([]byte(key), "cat.png", 90, time.Hour, now)
	exp := strconv.FormatInt(now.Add(-time.Minute).Unix(), 10)
	expired := "filename=cat.png&size=90&exp=" + exp + "&sig=" + urlsig.Sign([]byte(key), "cat.png", 90, exp)
	forever := urlsig.Query([]byte(key), "cat.png", 90, 0, now)
	other := urlsig.Query([]byte("other key"), "cat.png", 90, 0, now)
	cases := []struct {
		query  string
		status int
		msg    string
	}{
		{good, 200, ""},
		{forever, 200, ""},
		{"filename=cat.png&size=90", 403, "signature required"},
		{strings.Replace(good, "size=90", "size=91", 1), 403, "does not match"},
		{strings.Replace(forever, "cat.png", "dog.png", 1), 403, "does not match"},
		{other, 403, "does not match"},
		{expired, 403, "expired"},
	}
	for _, c := range cases {
		w := e.get(t, c.query)
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.msg) {
			t.Errorf("%s: %d %.80q, want %d %q", c.query, w.Code, w.Body, c.status, c.msg)
		}
	}
	if strings.Contains(e.log.String(), "sig=") || strings.Contains(e.log.String(), key) {
		t.Errorf("the log shows a signature or the key:\n%s", e.log)
	}
}

func TestTransformLimit(t *testing.T) {
	e := newEnv(t, nil)
	g := &gated{Store: e.images, gate: make(chan struct{}), enter: make(chan struct{}, 10)}
	h := thumbs.New(limited(1), g, e.thumbs, nil)
	first := make(chan *httptest.ResponseRecorder)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/?filename=cat.png&size=90", nil))
		first <- w
	}()
	<-g.enter // the first transform holds the only slot
	start := time.Now()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/?filename=cat.png&size=91", nil))
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || time.Since(start) > time.Second {
		t.Errorf("excess transform: %d Retry-After=%q after %v, want 503 at once", w.Code, w.Header().Get("Retry-After"), time.Since(start))
	}
	close(g.gate)
	if w := <-first; w.Code != 200 {
		t.Errorf("first transform: %d", w.Code)
	}
	// Hits need no slot.
	if w := e.get(t, "filename=cat.png&size=90"); w.Code != 200 {
		t.Errorf("hit: %d", w.Code)
	}
}

func TestIdenticalMissesShareOneTransform(t *testing.T) {
	e := newEnv(t, nil)
	g := &gated{Store: e.images, gate: make(chan struct{}), enter: make(chan struct{}, 10)}
	h := thumbs.New(config.Default().Handler(), g, e.thumbs, nil)
	var wg sync.WaitGroup
	bodies := make([][]byte, 10)
	for i := range bodies {
		wg.Go(func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/?filename=cat.png&size=120", nil))
			if w.Code != 200 {
				t.Errorf("call %d: %d", i, w.Code)
			}
			bodies[i] = w.Body.Bytes()
		})
	}
	<-g.enter
	time.Sleep(100 * time.Millisecond) // let the others join the flight
	close(g.gate)
	wg.Wait()
	for i := range bodies {
		if !bytes.Equal(bodies[i], bodies[0]) || len(bodies[i]) == 0 {
			t.Fatalf("call %d got different bytes", i)
		}
	}
	if n := g.gets.Load(); n > 2 {
		t.Errorf("%d fetches of the original for 10 identical misses", n)
	}
}

func TestFreshness(t *testing.T) {
	for _, fresh := range []bool{false, true} {
		e := newEnv(t, func(c *thumbs.Options) { c.Freshness = fresh })
		first := e.get(t, "filename=cat.png&size=100")
		// Replace the original with another picture.
		os.WriteFile(filepath.Join(e.dir, "images", "cat.png"), testimages.EncodePNG(testimages.Illustration(200, 100)), 0o644)
		os.Chtimes(filepath.Join(e.dir, "images", "cat.png"), time.Now().Add(time.Hour), time.Now().Add(time.Hour))
		second := e.get(t, "filename=cat.png&size=100")
		changed := !bytes.Equal(first.Body.Bytes(), second.Body.Bytes())
		if changed != fresh {
			t.Errorf("freshness %v: thumbnail changed = %v", fresh, changed)
		}
		if fresh {
			os.Remove(filepath.Join(e.dir, "images", "cat.png"))
			if w := e.get(t, "filename=cat.png&size=100"); w.Code != 404 {
				t.Errorf("freshness on, original deleted: %d, want 404", w.Code)
			}
		}
	}
}

func TestPurge(t *testing.T) {
	e := newEnv(t, nil)
	for _, q := range []string{"filename=cat.png&size=90", "filename=cat.png&size=180", "filename=cat.png&size=33",
		"filename=photo.jpg&size=20", "filename=folder%2Fmy+cat+%E7%8C%AB.png&size=90"} {
		if w := e.get(t, q); w.Code != 200 {
			t.Fatalf("%s: %d", q, w.Code)
		}
	}
	deleted, err := thumbs.Purge(context.Background(), e.thumbs, "cat.png")
	if err != nil || len(deleted) != 3 {
		t.Fatalf("Purge = %q, %v; want 3 keys", deleted, err)
	}
	left := e.stored(t)
	if len(left) != 2 {
		t.Errorf("left %q", left)
	}
	if _, err := thumbs.Purge(context.Background(), e.thumbs, "../x"); err == nil {
		t.Error("Purge took an invalid filename")
	}
}

func TestErrorsAreJSON(t *testing.T) {
	e := newEnv(t, nil)
	w := e.get(t, "filename=%00&size=1")
	var body map[string]map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"]["message"] == "" {
		t.Errorf("%q is not the error JSON", w.Body)
	}
	if w.Header().Get("Content-Length") == "" || w.Code != http.StatusBadRequest {
		t.Errorf("%d, Content-Length %q", w.Code, w.Header().Get("Content-Length"))
	}
}

// TestSharedTransformOutlivesFirstCaller: the first caller of a shared
// transform going away does not fail the others waiting on it.
func TestSharedTransformOutlivesFirstCaller(t *testing.T) {
	e := newEnv(t, nil)
	g := &gated{Store: e.images, gate: make(chan struct{}), enter: make(chan struct{}, 10)}
	h := thumbs.New(config.Default().Handler(), g, e.thumbs, nil)
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan int)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/?filename=cat.png&size=64", nil).WithContext(ctx))
		first <- w.Code
	}()
	<-g.enter
	second := make(chan *httptest.ResponseRecorder)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/?filename=cat.png&size=64", nil))
		second <- w
	}()
	time.Sleep(50 * time.Millisecond)
	cancel() // the first caller goes away
	if code := <-first; code != http.StatusGatewayTimeout {
		t.Errorf("first caller: %d, want 504", code)
	}
	close(g.gate)
	if w := <-second; w.Code != 200 || w.Body.Len() == 0 {
		t.Errorf("second caller: %d", w.Code)
	}
}

// limited returns the default options with at most n transforms at once.
func limited(n int) thumbs.Options {
	o := config.Default().Handler()
	o.MaxTransforms = n
	return o
}

// stallingGet wraps a real store: Get answers only when its context ends.
type stallingGet struct{ thumbs.Store }

func (s stallingGet) Get(ctx context.Context, key string) (*store.Object, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestWarmCallTimeout: Warm gives up on an original at CALL_TIMEOUT, as a
// call does, when the images store stalls, rather than holding its worker.
func TestWarmCallTimeout(t *testing.T) {
	e := newEnv(t, nil)
	opts := config.Default().Handler()
	opts.CallTimeout = 200 * time.Millisecond
	h := thumbs.New(opts, stallingGet{e.images}, e.thumbs, slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() {
		_, err := h.Warm(context.Background(), "cat.png", "", 90)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) || thumbs.Refused(err) {
			t.Errorf("Warm: %v, want the call's deadline, not a refusal", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Warm still waiting on a stalled store 5 s after a 200 ms CALL_TIMEOUT")
	}
	if keys := e.stored(t); len(keys) != 0 {
		t.Errorf("stored %v", keys)
	}
}
