package ironrunner

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
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

// hotScript answers every framed request with "hot", after sleeping
// delay seconds.
func hotScript(t *testing.T, delay string) string {
	return script(t, `while IFS= read -r line; do
  if [ "$line" = "$(printf '\r')" ]; then sleep `+delay+`; printf 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhot'; fi
done
`)
}

// coldScript says how it was called and what it read from stdin.
func coldScript(t *testing.T) string {
	return script(t, `printf 'cold %s [%s]' "$METHOD" "$(cat)"`+"\n")
}

// serve starts a Server with a hot and a cold route of app "a".
func serve(t *testing.T, hotDelay string) (*Server, *httptest.Server) {
	t.Helper()
	s := &Server{
		Route:  &Route{App: "a", Path: "/hot", Binary: hotScript(t, hotDelay), Format: "http", Timeout: 10 * time.Second},
		Routes: []*Route{{App: "b", Path: "/cold", Binary: coldScript(t), Format: "default"}},
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs
}

func do(hs *httptest.Server, method, path, body string) (int, string, error) {
	req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
	resp, err := hs.Client().Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestServerCrashesOnHotMethods: one request with any method but GET and
// POST on a hot route takes the whole server down, cold routes included,
// as it does IronFunctions 0.2.72.
func TestServerCrashesOnHotMethods(t *testing.T) {
	for _, method := range []string{"HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"} {
		t.Run(method, func(t *testing.T) {
			s, hs := serve(t, "0")
			for _, path := range []string{"/r/a/hot", "/r/b/cold"} {
				if code, _, err := do(hs, "GET", path, ""); err != nil || code != 200 {
					t.Fatalf("GET %s before the crash: %d, %v", path, code, err)
				}
			}
			if s.Crashed() {
				t.Fatal("crashed before the fatal request")
			}
			hot := s.Hot()
			if code, body, err := do(hs, method, "/r/a/hot", "x"); err == nil {
				t.Errorf("%s on the hot route answered %d %q; want no answer", method, code, body)
			}
			if !s.Crashed() {
				t.Errorf("%s on the hot route: Crashed() = false", method)
			}
			for _, c := range []struct{ method, path string }{
				{"GET", "/r/a/hot"}, {"POST", "/r/a/hot"}, {"GET", "/r/b/cold"}, {"HEAD", "/r/b/cold"}, {"GET", "/r/a/nope"},
			} {
				if code, body, err := do(hs, c.method, c.path, ""); err == nil {
					t.Errorf("%s %s after the crash answered %d %q; want no answer", c.method, c.path, code, body)
				}
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(hot.Procs()) > 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if pids := hot.Procs(); len(pids) != 0 {
				t.Errorf("hot processes %v outlived the crash", pids)
			}
			err := s.Close()
			if err == nil || !strings.Contains(err.Error(), method+" /r/a/hot") || !strings.Contains(err.Error(), "crashed") {
				t.Errorf("Close = %v, want the crash", err)
			}
		})
	}
}

// TestServerCrashCutsCallsInFlight: a call running when the server dies
// gets no answer either, and not after the route timeout.
func TestServerCrashCutsCallsInFlight(t *testing.T) {
	s, hs := serve(t, "5")
	done := make(chan error, 1)
	go func() {
		_, _, err := do(hs, "GET", "/r/a/hot", "")
		done <- err
	}()
	for deadline := time.Now().Add(5 * time.Second); s.Hot() == nil || len(s.Hot().Procs()) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the hot call never started")
		}
	}
	start := time.Now()
	do(hs, "OPTIONS", "/r/a/hot", "")
	select {
	case err := <-done:
		if err == nil {
			t.Error("the call in flight was answered by a crashed server")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("the call in flight ended %v after the crash", d)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("the call in flight never ended")
	}
	if !s.Crashed() || s.Close() == nil {
		t.Error("the crash was not recorded")
	}
}

// TestServerSurvivesOtherMethodsOnCold: cold routes run those methods
// with an empty stdin; HEAD gets the headers only; GET and POST are safe
// on a hot route.
func TestServerSurvivesOtherMethodsOnCold(t *testing.T) {
	s, hs := serve(t, "0")
	for _, method := range []string{"PUT", "DELETE", "OPTIONS", "PATCH", "POST"} {
		want := "cold " + method + " []"
		if method == "POST" {
			want = "cold POST [body]"
		}
		if code, body, err := do(hs, method, "/r/b/cold", "body"); err != nil || code != 200 || body != want {
			t.Errorf("%s on the cold route: %d %q, %v; want 200 %q", method, code, body, err, want)
		}
	}
	req, _ := http.NewRequest("HEAD", hs.URL+"/r/b/cold", nil)
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatalf("HEAD on the cold route: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != int64(len("cold HEAD []")) {
		t.Errorf("HEAD on the cold route: %d, %d body bytes, Content-Length %d", resp.StatusCode, len(b), resp.ContentLength)
	}
	for _, method := range []string{"GET", "POST"} {
		if code, body, err := do(hs, method, "/r/a/hot", ""); err != nil || code != 200 || body != "hot" {
			t.Errorf("%s on the hot route: %d %q, %v", method, code, body, err)
		}
	}
	if s.Crashed() {
		t.Error("Crashed() = true")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
}
