package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeSize(t *testing.T, data []byte) (string, int, int) {
	t.Helper()
	img, format, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("answer is not an image (%d bytes: %.80q): %v", len(data), data, err)
	}
	return format, img.Bounds().Dx(), img.Bounds().Dy()
}

// syncBuffer is a bytes.Buffer a server goroutine and a test can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestResizeCommand: the local resize command makes the same thumbnail
// as a cache miss and exits with the classes' codes on bad input.
func TestResizeCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "thumb.png")
	notImage := filepath.Join(dir, "notes.png")
	os.WriteFile(notImage, []byte("text"), 0o644)
	env := func(string) string { return "" }
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"resize", "-w", "90", "-o", out, "testdata/computer_cloud_system.png"}, env, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if f, w, h := decodeSize(t, mustRead(t, out)); f != "png" || w != 90 || h != 90 {
		t.Errorf("got %s %dx%d", f, w, h)
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"resize", "-w", "45", "testdata/photo.jpg"}, env, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("to stdout: exit %d: %s", code, stderr.String())
	}
	if f, w, _ := decodeSize(t, stdout.Bytes()); f != "jpeg" || w != 45 {
		t.Errorf("to stdout: %s %d wide", f, w)
	}
	for _, c := range []struct {
		args []string
		exit int
	}{
		{[]string{"resize"}, 64},
		{[]string{"resize", "-w", "0", "testdata/gray.png"}, 64},
		{[]string{"resize", "-w", "99999", "testdata/gray.png"}, 64},
		{[]string{"resize", filepath.Join(dir, "missing.png")}, 66},
		{[]string{"resize", notImage}, 65},
	} {
		if code := run(context.Background(), c.args, env, nil, &stdout, &stderr); code != c.exit {
			t.Errorf("%q: exit %d, want %d", c.args, code, c.exit)
		}
	}
}

// TestHotFraming feeds the hot loop directly: a malformed request is
// answered and the loop goes on.
func TestHotFraming(t *testing.T) {
	in := "GET / HTTP/1.1\r\nRequest_url: http//h/r/a/thumbs?size=1\r\nContent-Length: 0\r\n\r\n" +
		"garbage line\r\n\r\n" +
		"GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc" +
		"GET / HTTP/1.1\r\nRequest_url: http//h/r/a/thumbs?filename=x&size=9\r\nContent-Length: 0\r\n\r\n"
	var out, errOut bytes.Buffer
	env := map[string]string{"FN_FORMAT": "http"}
	code := run(context.Background(), nil, func(k string) string { return env[k] }, strings.NewReader(in), &out, &errOut)
	if code != 0 {
		t.Errorf("exit %d when stdin closed, want 0", code)
	}
	if n := strings.Count(out.String(), "HTTP/1.1 "); n != 4 {
		t.Errorf("%d responses to 4 requests:\n%s", n, out.String())
	}
	for _, want := range []string{"400 Bad Request", "malformed request", "no Request_url", "500 Internal Server Error"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("responses lack %q", want)
		}
	}
}

// TestCommandLineHabits: -h prints the usage once and exits 0, flags may
// follow the arguments, and values that would surprise are refused.
func TestCommandLineHabits(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"SIGNING_KEY": "k", "THUMB_SIZES": "90,180"}
	getenv := func(k string) string { return env[k] }
	runIt := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, getenv, nil, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	for _, cmd := range []string{"serve", "resize", "sign", "purge"} {
		for _, h := range []string{"-h", "-help", "--help"} {
			code, out, errOut := runIt(cmd, h)
			if code != 0 || strings.Count(out, "usage:") != 1 || errOut != "" {
				t.Errorf("%s %s: exit %d, stdout %q, stderr %q; want exit 0 and the usage once", cmd, h, code, out, errOut)
			}
		}
	}
	out := filepath.Join(dir, "t.png")
	if code, _, errOut := runIt("resize", "testdata/gray.png", "-w", "40", "-o", out); code != 0 {
		t.Errorf("flags after the argument: exit %d: %s", code, errOut)
	} else if _, w, _ := decodeSize(t, mustRead(t, out)); w != 40 {
		t.Errorf("flags after the argument: width %d, want 40", w)
	}
	if code, stdout, errOut := runIt("sign", "cat.png", "90", "-base", "https://fn.example/r/a/thumbs"); code != 0 ||
		!strings.HasPrefix(stdout, "https://fn.example/r/a/thumbs?") {
		t.Errorf("sign with flags last: exit %d, %q %q", code, stdout, errOut)
	}
	if code, stdout, _ := runIt("sign", "--", "-odd name.png", "90"); code != 0 || !strings.Contains(stdout, "filename=-odd+name.png") {
		t.Errorf("sign -- -odd name.png: exit %d, %q", code, stdout)
	}
	for _, c := range []struct {
		args []string
		exit int
		msg  string
	}{
		{[]string{"sign", "-ttl", "-1h", "cat.png", "90"}, 64, "more than 0"},
		{[]string{"sign", "-ttl", "0s", "cat.png", "90"}, 64, "more than 0"},
		{[]string{"sign", "cat.png", "100"}, 64, "not offered"},
		{[]string{"sign", "cat.png", "4000"}, 64, "larger than the maximum"},
		{[]string{"resize", "-o", dir, "testdata/gray.png"}, 64, "is a folder"},
		{[]string{"resize", "-x", "testdata/gray.png"}, 64, "flag provided but not defined"},
		{[]string{"nonsense"}, 64, "unknown command"},
	} {
		code, _, errOut := runIt(c.args...)
		if code != c.exit || strings.Count(errOut, c.msg) != 1 {
			t.Errorf("%q: exit %d, stderr %q; want %d and one message saying %q", c.args, code, errOut, c.exit, c.msg)
		}
	}
}

// TestLogFormat: LOG_FORMAT=json makes every log line a JSON object; an
// unknown format is a configuration error.
func TestLogFormat(t *testing.T) {
	for _, c := range []struct {
		format  string
		refused bool
	}{{"json", false}, {"text", false}, {"yaml", true}} {
		env := map[string]string{"LOG_FORMAT": c.format, "FN_FORMAT": "http"}
		in := "GET / HTTP/1.1\r\nRequest_url: http//h/r/a/thumbs?filename=nope.png&size=9\r\nContent-Length: 0\r\n\r\n"
		var stdout, stderr bytes.Buffer
		// The hot door with no S3 settings answers a configuration error
		// (exit 0: it keeps serving); its log says so.
		code := run(context.Background(), nil, func(k string) string { return env[k] }, strings.NewReader(in), &stdout, &stderr)
		if code != 0 {
			t.Errorf("%s: exit %d", c.format, code)
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		for _, l := range lines {
			isJSON := json.Valid([]byte(l))
			if isJSON != (c.format == "json") {
				t.Errorf("LOG_FORMAT=%s: line %q", c.format, l)
			}
		}
		if c.refused && !strings.Contains(stderr.String(), "LOG_FORMAT: want text or json") {
			t.Errorf("LOG_FORMAT=yaml: %s", stderr.String())
		}
	}
}

// TestWarm: warm makes the missing and stale thumbnails of a folder of
// originals, counts what the limits refuse without failing, leaves fresh
// ones alone, and refuses sizes the function would refuse.
func TestWarm(t *testing.T) {
	dir := t.TempDir()
	images := filepath.Join(dir, "images")
	os.MkdirAll(filepath.Join(images, "album"), 0o755)
	os.WriteFile(filepath.Join(images, "album", "cat.png"), mustRead(t, "testdata/computer_cloud_system.png"), 0o644)
	os.WriteFile(filepath.Join(images, "gray.png"), mustRead(t, "testdata/gray.png"), 0o644)
	os.WriteFile(filepath.Join(images, "notes.txt"), []byte("not an image"), 0o644)
	env := map[string]string{"THUMB_SIZES": "90,180,360"}
	warm := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"warm", "-local", dir}, args...),
			func(k string) string { return env[k] }, nil, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	code, out, errOut := warm("-sizes", "90,180")
	if code != 0 || !strings.Contains(out, "6 thumbnails of 3 originals at 2 sizes") ||
		!strings.Contains(out, "4 made, 0 already fresh, 2 refused, 0 failed") || !strings.Contains(errOut, "refused notes.txt at 90") {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
	}
	thumbsDir := filepath.Join(dir, "thumbs", thumbs.KeyVersion)
	for p, want := range map[string]int{"90/gray.png": 90, "180/gray.png": 150, "90/album/cat.png": 90, "180/album/cat.png": 180} {
		if _, w, _ := decodeSize(t, mustRead(t, filepath.Join(thumbsDir, p))); w != want {
			t.Errorf("%s: width %d, want %d", p, w, want)
		}
	}
	if code, out, _ := warm("-sizes", "90,180"); code != 0 || !strings.Contains(out, "0 made, 4 already fresh") {
		t.Errorf("second run: exit %d %s", code, out)
	}
	// A replaced original's thumbnails are stale: made again, and only they.
	os.WriteFile(filepath.Join(images, "gray.png"), mustRead(t, "testdata/palette.png"), 0o644)
	if code, out, _ := warm("-sizes", "90,180", "gray"); code != 0 || !strings.Contains(out, "2 thumbnails of 1 originals") ||
		!strings.Contains(out, "2 made, 0 already fresh") {
		t.Errorf("after a replacement: exit %d %s", code, out)
	}
	// THUMB_SIZES is the default, and the limit.
	if code, out, _ := warm(); code != 0 || !strings.Contains(out, "at 3 sizes") {
		t.Errorf("default sizes: exit %d %s", code, out)
	}
	if code, _, errOut := warm("-sizes", "100"); code != 64 || !strings.Contains(errOut, "not offered") {
		t.Errorf("a size THUMB_SIZES refuses: exit %d %s", code, errOut)
	}
	delete(env, "THUMB_SIZES")
	if code, _, errOut := warm(); code != 64 || !strings.Contains(errOut, "no sizes") {
		t.Errorf("no sizes: exit %d %s", code, errOut)
	}
}
