package ironrunner

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnv(t *testing.T) {
	r := &Route{
		App: "iron_thumbs", Path: "/thumbs",
		AppConfig: map[string]string{"s3-endpoint": "http://app", "image-bucket": "images"},
		Config:    map[string]string{"S3-ENDPOINT": "http://route"},
	}
	env := r.Env(Call{
		Host: "example.com:8080", URL: "/r/iron_thumbs/thumbs?filename=a+b.png&size=180",
		Header: http.Header{"Accept": {"image/png", "*/*"}, "X-Trace-Id": {"1"}, "Host": {"x"}},
	})
	want := []string{
		"HEADER_ACCEPT=image/png */*",
		"HEADER_X_TRACE_ID=1",
		"IMAGE_BUCKET=images",
		"METHOD=GET",
		"REQUEST_URL=http//example.com:8080/r/iron_thumbs/thumbs?filename=a+b.png&size=180",
		"ROUTE=/thumbs",
		"S3_ENDPOINT=http://route",
	}
	if !slices.Equal(env, want) {
		t.Errorf("Env =\n%s\nwant\n%s", strings.Join(env, "\n"), strings.Join(want, "\n"))
	}
}

func TestStdin(t *testing.T) {
	if got := string(stdin(Call{URL: "/r/a/b?payload=hello"})); got != "hello" {
		t.Errorf("GET stdin = %q", got)
	}
	if got := string(stdin(Call{Method: "POST", URL: "/r/a/b?payload=x", Body: []byte("body")})); got != "body" {
		t.Errorf("POST stdin = %q", got)
	}
	if got := stdin(Call{Method: "DELETE", URL: "/r/a/b", Body: []byte("body")}); len(got) != 0 {
		t.Errorf("DELETE stdin = %q", got)
	}
}

// script writes a shell script standing for a function image.
func script(t *testing.T, body string) string {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatal("sh is needed for this test")
	}
	p := filepath.Join(t.TempDir(), "fn.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestColdExitCode(t *testing.T) {
	r := &Route{App: "a", Path: "/p", Binary: script(t, "echo partial; echo oops >&2; exit 66\n"),
		Headers: map[string][]string{"Cache-Control": {"max-age=60", "ignored"}}}
	res := r.RunCold(context.Background(), Call{URL: "/r/a/p"})
	if res.Status != 500 || !strings.Contains(string(res.Body), `"message":"exit code 66"`) || !strings.Contains(string(res.Body), "request_id") {
		t.Errorf("got %d %s", res.Status, res.Body)
	}
	if res.Header.Get("Cache-Control") != "max-age=60" {
		t.Errorf("route header on the error: %q", res.Header.Get("Cache-Control"))
	}
	if res.Stderr != "oops\n" {
		t.Errorf("stderr %q", res.Stderr)
	}
}

func TestColdTimeout(t *testing.T) {
	r := &Route{Binary: script(t, "sleep 10\n"), Timeout: 300 * time.Millisecond}
	start := time.Now()
	res := r.RunCold(context.Background(), Call{URL: "/r/a/p"})
	if res.Status != 504 || !strings.Contains(string(res.Body), "Timed out") || time.Since(start) > 5*time.Second {
		t.Errorf("got %d %s after %v", res.Status, res.Body, time.Since(start))
	}
}

// TestHotWithoutContentLength: a response the server cannot frame is
// never finished; the call times out, as on the real server.
func TestHotWithoutContentLength(t *testing.T) {
	fn := script(t, `while read line; do
  case "$line" in "Content-Length: "*) ;; esac
  if [ "$line" = "$(printf '\r')" ]; then printf 'HTTP/1.1 200 OK\r\n\r\nbody'; fi
done
`)
	hot := NewHot(&Route{Binary: fn, Format: "http", Timeout: 500 * time.Millisecond})
	defer hot.Close()
	res := hot.Run(context.Background(), Call{URL: "/r/a/p?x=1"})
	if res.Status != 500 || !strings.Contains(string(res.Body), "Timed out") {
		t.Errorf("got %d %s, want a timeout", res.Status, res.Body)
	}
}

// TestHotFraming checks what the function receives: `GET /`, the
// environment as canonical headers, Content-Length and Task-ID.
func TestHotFraming(t *testing.T) {
	dir := t.TempDir()
	fn := script(t, `dump="`+dir+`/req"
while IFS= read -r line; do
  printf '%s\n' "$line" >> "$dump"
  if [ "$line" = "$(printf '\r')" ]; then printf 'HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Fn: 1\r\n\r\nok'; fi
done
`)
	hot := NewHot(&Route{App: "a", Path: "/p", Binary: fn, Format: "http",
		Headers: map[string][]string{"Content-Type": {"image/png"}}})
	res := hot.Run(context.Background(), Call{URL: "/r/a/p?filename=a.png&size=1"})
	hot.Close()
	if res.Status != 200 || string(res.Body) != "ok" || res.FnStatus != 201 || res.Header.Get("X-Fn") != "" {
		t.Errorf("client got %d %q %v (function said %d)", res.Status, res.Body, res.Header, res.FnStatus)
	}
	if res.Header.Get("Content-Type") != "image/png" {
		t.Errorf("route header missing: %v", res.Header)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "req"))
	for _, want := range []string{"GET / HTTP/1.1\r", "Request_url: http//localhost:8080/r/a/p?filename=a.png&size=1\r", "Route: /p\r", "Method: GET\r", "Content-Length: 0\r", "Task-Id: "} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("request lacks %q:\n%s", want, raw)
		}
	}
}
