package thumbs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	_ "image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iron-thumbs/iron_thumbs/config"
	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
	"github.com/iron-thumbs/iron_thumbs/localstore"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

type env struct {
	h      http.Handler
	images *localstore.Dir
	thumbs *localstore.Dir
	dir    string
	log    *bytes.Buffer
}

func newEnv(t *testing.T, mod func(*thumbs.Options)) *env {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "images", "folder"), 0o755)
	os.MkdirAll(filepath.Join(dir, "thumbs"), 0o755)
	for name, data := range map[string][]byte{
		"cat.png":             testimages.EncodePNG(testimages.Illustration(400, 400)),
		"folder/my cat 猫.png": testimages.EncodePNG(testimages.Illustration(200, 100)),
		"not-an-image.png":    []byte("just text"),
		"bomb.png":            testimages.Bomb(20000, 20000),
		"photo.jpg":           testimages.JPEG(64, 48, 1),
	} {
		if err := os.WriteFile(filepath.Join(dir, "images", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	images, err := localstore.Open(filepath.Join(dir, "images"))
	if err != nil {
		t.Fatal(err)
	}
	th, err := localstore.Open(filepath.Join(dir, "thumbs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { images.Close(); th.Close() })
	opts := config.Default().Handler()
	if mod != nil {
		mod(&opts)
	}
	var log bytes.Buffer
	h := thumbs.New(opts, images, th, slog.New(slog.NewTextHandler(&log, nil)))
	return &env{h: h, images: images, thumbs: th, dir: dir, log: &log}
}

func (e *env) get(t *testing.T, query string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/r/iron_thumbs/thumbs?"+query, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func (e *env) stored(t *testing.T) []string {
	keys, err := e.thumbs.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestMissThenHit(t *testing.T) {
	e := newEnv(t, nil)
	miss := e.get(t, "filename=cat.png&size=180")
	if miss.Code != 200 {
		t.Fatalf("miss: %d %s", miss.Code, miss.Body)
	}
	img, format, err := image.Decode(bytes.NewReader(miss.Body.Bytes()))
	if err != nil || format != "png" || img.Bounds().Dx() != 180 || img.Bounds().Dy() != 180 {
		t.Fatalf("miss body: %v %s %v", err, format, img.Bounds())
	}
	for _, h := range []string{"Content-Type", "Content-Length", "ETag", "Cache-Control", "Server-Timing"} {
		if miss.Header().Get(h) == "" {
			t.Errorf("miss lacks %s", h)
		}
	}
	if st := miss.Header().Get("Server-Timing"); !strings.Contains(st, "decode;dur=") || !strings.Contains(st, "store;dur=") {
		t.Errorf("Server-Timing = %q", st)
	}
	if got := e.stored(t); len(got) != 1 || got[0] != "v3/180/cat.png" {
		t.Fatalf("stored %q, want [v3/180/cat.png]", got)
	}
	// The original may go: the hit needs only the thumbnail.
	os.Remove(filepath.Join(e.dir, "images", "cat.png"))
	hit := e.get(t, "filename=cat.png&size=180")
	if hit.Code != 200 || !bytes.Equal(hit.Body.Bytes(), miss.Body.Bytes()) {
		t.Fatalf("hit: %d, %d bytes; want the miss's %d bytes", hit.Code, hit.Body.Len(), miss.Body.Len())
	}
	if hit.Header().Get("ETag") != miss.Header().Get("ETag") {
		t.Errorf("hit ETag %s, miss ETag %s", hit.Header().Get("ETag"), miss.Header().Get("ETag"))
	}
	if st := hit.Header().Get("Server-Timing"); !strings.HasPrefix(st, "lookup;dur=") || strings.Contains(st, "decode") {
		t.Errorf("hit Server-Timing = %q", st)
	}
	nm := e.get(t, "filename=cat.png&size=180", "If-None-Match", miss.Header().Get("ETag"))
	if nm.Code != http.StatusNotModified || nm.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d with %d bytes, want 304 and no body", nm.Code, nm.Body.Len())
	}
}

func TestFolderAndUnicode(t *testing.T) {
	e := newEnv(t, nil)
	w := e.get(t, "filename=folder%2Fmy+cat+%E7%8C%AB.png&size=50")
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	img, _, _ := image.Decode(bytes.NewReader(w.Body.Bytes()))
	if img.Bounds().Dx() != 50 || img.Bounds().Dy() != 25 {
		t.Errorf("got %v, want 50x25", img.Bounds())
	}
}

func TestNeverEnlarge(t *testing.T) {
	e := newEnv(t, nil)
	w := e.get(t, "filename=cat.png&size=1000")
	img, _, err := image.Decode(bytes.NewReader(w.Body.Bytes()))
	if err != nil || img.Bounds().Dx() != 400 {
		t.Errorf("size 1000 of a 400 px image: %v %v", err, img)
	}
}

func TestCacheOff(t *testing.T) {
	e := newEnv(t, func(c *thumbs.Options) { c.Cache = false })
	for range 2 {
		w := e.get(t, "filename=cat.png&size=90")
		if w.Code != 200 || !strings.Contains(w.Header().Get("Server-Timing"), "decode") {
			t.Fatalf("%d %q", w.Code, w.Header().Get("Server-Timing"))
		}
	}
	if got := e.stored(t); len(got) != 0 {
		t.Errorf("cache off stored %q", got)
	}
	// Always make means every call: identical concurrent misses are not
	// shared, so a benchmark of this mode measures making thumbnails.
	opts := config.Default().Handler()
	opts.Cache = false
	g := &gated{Store: e.images, gate: make(chan struct{}), enter: make(chan struct{}, 10)}
	h := thumbs.New(opts, g, e.thumbs, nil)
	var wg sync.WaitGroup
	codes := make([]int, 5)
	for i := range 5 {
		wg.Go(func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/?filename=cat.png&size=91", nil))
			codes[i] = w.Code
		})
	}
	// Every call must reach the original while the others wait on it: a
	// shared transform would leave fewer than 5 fetches in flight.
	timeout := time.After(5 * time.Second)
wait:
	for entered := 0; entered < 5; entered++ {
		select {
		case <-g.enter:
		case <-timeout:
			t.Errorf("5 identical calls with the cache off: %d fetched the original at once", entered)
			break wait
		}
	}
	close(g.gate)
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("call %d: %d", i, c)
		}
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t, func(c *thumbs.Options) { c.Sizes = []int{90, 180} })
	cases := []struct {
		query  string
		status int
		msg    string
	}{
		{"", 400, "missing filename"},
		{"filename=cat.png&size=0", 400, "whole number"},
		{"filename=cat.png&size=100", 400, "allowed sizes are 90, 180"},
		{"filename=../cat.png&size=90", 400, "path segment"},
		{"filename=nope.png&size=90", 404, "original not found"},
		{"filename=not-an-image.png&size=90", 415, "unsupported image"},
		{"filename=bomb.png&size=90", 413, "too large"},
		{"filename=" + strings.Repeat("x", 300) + ".png&size=90", 400, "filename refused by the store"},
		{"filename=.iron_thumbs/tmp/x&size=90", 400, "refused by the store"},
	}
	for _, c := range cases {
		w := e.get(t, c.query)
		var body struct {
			Error struct{ Message string }
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Errorf("%.40q: body %q is not the error JSON", c.query, w.Body)
		}
		if w.Code != c.status || !strings.Contains(body.Error.Message, c.msg) {
			t.Errorf("%.40q: %d %q, want %d with %q", c.query, w.Code, body.Error.Message, c.status, c.msg)
		}
		if w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%.40q: Content-Type %q", c.query, w.Header().Get("Content-Type"))
		}
	}
	if got := e.stored(t); len(got) != 0 {
		t.Errorf("errors stored %q", got)
	}
}

func TestJPEGStaysJPEG(t *testing.T) {
	e := newEnv(t, nil)
	w := e.get(t, "filename=photo.jpg&size=32")
	if w.Code != 200 || w.Header().Get("Content-Type") != "image/jpeg" {
		t.Fatalf("%d %s", w.Code, w.Header().Get("Content-Type"))
	}
	if _, format, err := image.Decode(bytes.NewReader(w.Body.Bytes())); err != nil || format != "jpeg" {
		t.Errorf("%s %v", format, err)
	}
}
