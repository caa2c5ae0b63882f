// Package e2e tests the built binary through every door, as its users
// meet it: cold and hot calls under an IronFunctions-faithful runner, the
// local server as a process, and the sign, purge and resize commands,
// against a real S3 server (the Versity S3 Gateway, started here).
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iron-thumbs/iron_thumbs/internal/ironrunner"
	"github.com/iron-thumbs/iron_thumbs/internal/s3test"
	"github.com/iron-thumbs/iron_thumbs/s3store"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

// binary is the function under test: $IRON_THUMBS_BIN (make test passes
// its static build), else the Makefile's build into a temporary folder.
var binary string

// s3 is one gateway shared by the package's tests; each test takes its own
// buckets.
var s3 *s3test.Server

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "iron_thumbs-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if binary, err = buildBinary(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s3, err = s3test.Launch(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s3.Stop()
	return m.Run()
}

// buildBinary returns $IRON_THUMBS_BIN, or builds the binary with the
// Makefile's static build (the one place its flags are written).
func buildBinary(dir string) (string, error) {
	if bin := os.Getenv("IRON_THUMBS_BIN"); bin != "" {
		return filepath.Abs(bin)
	}
	bin := filepath.Join(dir, "iron_thumbs")
	out, err := exec.Command("make", "-s", "-C", "..", "build", "BIN="+bin).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("make build: %v\n%s", err, out)
	}
	return bin, nil
}

var bucketSeq atomic.Int32

// buckets holds a test's own pair of buckets on the shared gateway, the
// originals uploaded from testdata/.
type buckets struct {
	images, thumbs *s3store.Bucket
}

func newBuckets(t *testing.T, createThumbs bool) buckets {
	t.Helper()
	n := bucketSeq.Add(1)
	client := s3.Client()
	b := buckets{
		images: s3store.New(client, fmt.Sprintf("images-%d", n)),
		thumbs: s3store.New(client, fmt.Sprintf("thumbs-%d", n)),
	}
	ctx := context.Background()
	if err := b.images.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	if createThumbs {
		if err := b.thumbs.EnsureBucket(ctx); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*.*"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.images.Put(ctx, filepath.Base(f), data, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	cloud := mustRead(t, "../testdata/computer_cloud_system.png")
	b.images.Put(ctx, "notes.png", []byte("not an image at all"), "image/png", nil)
	b.images.Put(ctx, "truncated.png", cloud[:len(cloud)/2], "image/png", nil)
	if err := b.images.Put(ctx, "folder/my cat 猫.png", mustRead(t, "../testdata/gray.png"), "image/png", nil); err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// route returns the route as IronFunctions would hold it, S3 settings in
// the app's config under the names an operator would give them.
func (b buckets) route(format string, extra map[string]string) *ironrunner.Route {
	app := map[string]string{
		"s3-endpoint":   s3.Endpoint,
		"s3-access-key": s3.AccessKey,
		"s3_secret_key": s3.SecretKey,
		"image-bucket":  b.images.Name(),
		"thumb-bucket":  b.thumbs.Name(),
	}
	for k, v := range extra {
		app[k] = v
	}
	return &ironrunner.Route{
		App: "iron_thumbs", Path: "/thumbs", Binary: binary, Format: format,
		AppConfig: app, Timeout: 30 * time.Second,
	}
}

func (b buckets) keys(t *testing.T) []string {
	t.Helper()
	keys, err := b.thumbs.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func thumbsURL(query string) string { return "/r/iron_thumbs/thumbs?" + query }

func decodeSize(t *testing.T, data []byte) (string, int, int) {
	t.Helper()
	img, format, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("answer is not an image (%d bytes: %.80q): %v", len(data), data, err)
	}
	return format, img.Bounds().Dx(), img.Bounds().Dy()
}

func TestColdMissThenHit(t *testing.T) {
	b := newBuckets(t, true)
	r := b.route("default", nil)
	ctx := context.Background()
	miss := r.RunCold(ctx, ironrunner.Call{URL: thumbsURL("filename=computer_cloud_system.png&size=180")})
	if miss.Status != 200 || miss.ExitCode != 0 {
		t.Fatalf("miss: %d exit %d %s\nstderr: %s", miss.Status, miss.ExitCode, miss.Body, miss.Stderr)
	}
	if f, w, h := decodeSize(t, miss.Body); f != "png" || w != 180 || h != 180 {
		t.Errorf("miss gave %s %dx%d", f, w, h)
	}
	if ct := miss.Header.Get("Content-Type"); ct != "image/png" {
		t.Errorf("client Content-Type %q, want the server's sniffed image/png", ct)
	}
	if n := strings.Count(strings.TrimSpace(miss.Stderr), "\n"); n != 0 || !strings.Contains(miss.Stderr, "outcome=miss") {
		t.Errorf("want one log line with the outcome, got %q", miss.Stderr)
	}
	keys := b.keys(t)
	if len(keys) != 1 || keys[0] != thumbs.KeyVersion+"/180/computer_cloud_system.png" {
		t.Fatalf("thumbs bucket holds %q", keys)
	}
	obj, err := b.thumbs.Get(ctx, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if !bytes.Equal(stored, miss.Body) || obj.ContentType != "image/png" {
		t.Errorf("stored %d bytes of %s, streamed %d", len(stored), obj.ContentType, len(miss.Body))
	}
	// A hit needs only the thumbnail.
	if err := b.images.Delete(ctx, "computer_cloud_system.png"); err != nil {
		t.Fatal(err)
	}
	hit := r.RunCold(ctx, ironrunner.Call{URL: thumbsURL("filename=computer_cloud_system.png&size=180")})
	if hit.Status != 200 || !bytes.Equal(hit.Body, miss.Body) || !strings.Contains(hit.Stderr, "outcome=hit") {
		t.Errorf("hit: %d, %d bytes, log %q", hit.Status, len(hit.Body), hit.Stderr)
	}
}

func TestColdExitCodes(t *testing.T) {
	b := newBuckets(t, true)
	ctx := context.Background()
	bigSource := b.route("default", map[string]string{"max-source-bytes": "1000"})
	cases := []struct {
		name  string
		route *ironrunner.Route
		call  ironrunner.Call
		exit  int
		log   string
	}{
		{"no parameters", b.route("default", nil), ironrunner.Call{URL: "/r/iron_thumbs/thumbs"}, 64, "missing filename"},
		{"size 0", b.route("default", nil), ironrunner.Call{URL: thumbsURL("filename=a.png&size=0")}, 64, "whole number"},
		{"dot dot", b.route("default", nil), ironrunner.Call{URL: thumbsURL("filename=../a.png&size=10")}, 64, "path segment"},
		{"not an image", b.route("default", nil), ironrunner.Call{URL: thumbsURL("filename=notes.png&size=10")}, 65, "unsupported image"},
		{"truncated", b.route("default", nil), ironrunner.Call{URL: thumbsURL("filename=truncated.png&size=10")}, 65, "corrupt image"},
		{"missing original", b.route("default", nil), ironrunner.Call{URL: thumbsURL("filename=nope.png&size=10")}, 66, "original not found"},
		{"source too large", bigSource, ironrunner.Call{URL: thumbsURL("filename=photo.jpg&size=10")}, 67, "limit of 1000"},
		{"no S3 config", &ironrunner.Route{App: "iron_thumbs", Path: "/thumbs", Binary: binary}, ironrunner.Call{URL: thumbsURL("filename=a.png&size=10")}, 78, "no S3 configuration"},
		{"bad config", b.route("default", map[string]string{"thumb-cache": "maybe"}), ironrunner.Call{URL: thumbsURL("filename=a.png&size=10")}, 78, "THUMB_CACHE"},
	}
	for _, c := range cases {
		res := c.route.RunCold(ctx, c.call)
		want := fmt.Sprintf(`"message":"exit code %d"`, c.exit)
		if res.Status != 500 || res.ExitCode != c.exit || !strings.Contains(string(res.Body), want) {
			t.Errorf("%s: %d exit %d %s, want 500 with exit code %d", c.name, res.Status, res.ExitCode, res.Body, c.exit)
		}
		if len(res.Stdout) != 0 {
			t.Errorf("%s: wrote %d bytes to stdout on failure", c.name, len(res.Stdout))
		}
		if !strings.Contains(res.Stderr, c.log) || strings.Count(strings.TrimSpace(res.Stderr), "\n") != 0 {
			t.Errorf("%s: stderr %q, want one line saying %q", c.name, res.Stderr, c.log)
		}
	}
	if keys := b.keys(t); len(keys) != 0 {
		t.Errorf("failed calls stored %q", keys)
	}
}

func TestColdStorage(t *testing.T) {
	ctx := context.Background()
	t.Run("thumbs bucket missing still serves", func(t *testing.T) {
		b := newBuckets(t, false)
		res := b.route("default", nil).RunCold(ctx, ironrunner.Call{URL: thumbsURL("filename=gray.png&size=50")})
		if res.Status != 200 {
			t.Fatalf("%d %s %s", res.Status, res.Body, res.Stderr)
		}
		if !strings.Contains(res.Stderr, "storing thumbnail failed") {
			t.Errorf("the failed write is not logged: %q", res.Stderr)
		}
	})
	t.Run("images bucket missing is a storage error", func(t *testing.T) {
		b := newBuckets(t, true)
		r := b.route("default", map[string]string{"image-bucket": "no-such-bucket"})
		res := r.RunCold(ctx, ironrunner.Call{URL: thumbsURL("filename=gray.png&size=50")})
		if res.ExitCode != 69 || !strings.Contains(res.Stderr, "bucket does not exist") {
			t.Errorf("exit %d, stderr %q; want 69 and a bucket message", res.ExitCode, res.Stderr)
		}
	})
	t.Run("storage down is fast", func(t *testing.T) {
		b := newBuckets(t, true)
		r := b.route("default", map[string]string{"s3-endpoint": "http://127.0.0.1:1"})
		start := time.Now()
		res := r.RunCold(ctx, ironrunner.Call{URL: thumbsURL("filename=gray.png&size=50")})
		if res.ExitCode != 69 || !strings.Contains(res.Stderr, "storage unavailable") {
			t.Errorf("exit %d, stderr %q; want 69, storage unavailable", res.ExitCode, res.Stderr)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("answered after %v, want well under the 30s route timeout", d)
		}
	})
}

func TestColdFormats(t *testing.T) {
	b := newBuckets(t, true)
	r := b.route("default", nil)
	cases := []struct {
		query  string
		format string
		w, h   int
	}{
		{"filename=photo.jpg&size=100", "jpeg", 100, 75},
		{"filename=rotated.jpg&size=60", "jpeg", 60, 80},
		{"filename=animated.gif&size=60", "png", 60, 40},
		{"filename=interlaced.png&size=100", "png", 100, 100},
		{"filename=gray16.png&size=100", "png", 100, 50},
		{"filename=palette.png&size=64", "png", 64, 48},
		{"filename=folder%2Fmy+cat+%E7%8C%AB.png&size=75", "png", 75, 50},
	}
	for _, c := range cases {
		res := r.RunCold(context.Background(), ironrunner.Call{URL: thumbsURL(c.query)})
		if res.Status != 200 {
			t.Errorf("%s: %d %s", c.query, res.Status, res.Stderr)
			continue
		}
		if f, w, h := decodeSize(t, res.Body); f != c.format || w != c.w || h != c.h {
			t.Errorf("%s: %s %dx%d, want %s %dx%d", c.query, f, w, h, c.format, c.w, c.h)
		}
	}
}

func TestHotCalls(t *testing.T) {
	b := newBuckets(t, true)
	var log bytes.Buffer
	r := b.route("http", nil)
	r.Stderr = &log
	hot := ironrunner.NewHot(r)
	ctx := context.Background()
	calls := []struct {
		call     ironrunner.Call
		fnStatus int
		width    int
		msg      string
	}{
		{ironrunner.Call{URL: thumbsURL("filename=computer_cloud_system.png&size=180")}, 200, 180, ""},
		{ironrunner.Call{URL: thumbsURL("filename=computer_cloud_system.png&size=90")}, 200, 90, ""},
		{ironrunner.Call{URL: thumbsURL("filename=nope.png&size=90")}, 404, 0, "original not found"},
		{ironrunner.Call{URL: thumbsURL("filename=gray.png&size=0")}, 400, 0, "whole number"},
		{ironrunner.Call{Method: "POST", URL: thumbsURL("filename=gray.png&size=30"), Body: bytes.Repeat([]byte("skip me "), 5000)}, 200, 30, ""},
		{ironrunner.Call{URL: thumbsURL("filename=computer_cloud_system.png&size=180")}, 200, 180, ""},
	}
	for i, c := range calls {
		res := hot.Run(ctx, c.call)
		if res.Status != 200 || res.FnStatus != c.fnStatus {
			t.Fatalf("call %d: client %d, function %d, want function %d: %s", i, res.Status, res.FnStatus, c.fnStatus, res.Body)
		}
		if c.width > 0 {
			if _, w, _ := decodeSize(t, res.Body); w != c.width {
				t.Errorf("call %d: width %d, want %d", i, w, c.width)
			}
			for _, h := range []string{"Etag", "Cache-Control", "Server-Timing", "Content-Type"} {
				if res.FnHeader.Get(h) == "" {
					t.Errorf("call %d: function sent no %s", i, h)
				}
			}
		} else if !strings.Contains(string(res.Body), `{"error":{"message":"`) || !strings.Contains(string(res.Body), c.msg) {
			t.Errorf("call %d: body %q, want the error JSON saying %q", i, res.Body, c.msg)
		}
	}
	if pids := hot.Procs(); len(pids) != 1 {
		t.Errorf("%d processes served the calls, want 1", len(pids))
	}
	if err := hot.Close(); err != nil {
		t.Error(err)
	}
	if got := b.keys(t); len(got) != 3 {
		t.Errorf("stored %q, want 3 thumbnails", got)
	}
}

func TestHotWithoutConfigAnswers(t *testing.T) {
	r := &ironrunner.Route{App: "iron_thumbs", Path: "/thumbs", Binary: binary, Format: "http", Timeout: 10 * time.Second}
	hot := ironrunner.NewHot(r)
	defer hot.Close()
	start := time.Now()
	for range 2 {
		res := hot.Run(context.Background(), ironrunner.Call{URL: thumbsURL("filename=a.png&size=10")})
		if res.FnStatus != 500 || !strings.Contains(string(res.Body), "no S3 configuration") {
			t.Errorf("function answered %d %s", res.FnStatus, res.Body)
		}
	}
	if time.Since(start) > 5*time.Second {
		t.Error("a hot call without configuration was not answered at once")
	}
}

// TestOtherMethods: behind IronFunctions, a cold route runs the function
// for any method (HEAD gets the headers only); a hot route takes the whole
// server down on anything but GET and POST, which is why func.yaml ships
// the cold format.
func TestOtherMethods(t *testing.T) {
	b := newBuckets(t, true)
	for _, format := range []string{"default", "http"} {
		srv := &ironrunner.Server{Route: b.route(format, nil)}
		ts := httptest.NewServer(srv)
		for _, method := range []string{"DELETE", "HEAD", "GET"} {
			req, _ := http.NewRequest(method, ts.URL+thumbsURL("filename=gray.png&size=33"), nil)
			resp, err := http.DefaultClient.Do(req)
			var body []byte
			if err == nil {
				body, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			switch {
			case format == "default" && (err != nil || resp.StatusCode != 200):
				t.Errorf("cold %s: %v %v", method, err, resp)
			case format == "default" && method != "HEAD":
				if _, w, _ := decodeSize(t, body); w != 33 {
					t.Errorf("cold %s: width %d", method, w)
				}
			case format == "http" && err == nil:
				t.Errorf("hot %s after a DELETE: answered %d; IronFunctions 0.2.72 is down by then", method, resp.StatusCode)
			}
		}
		if crashed := srv.Crashed(); crashed != (format == "http") {
			t.Errorf("%s route: crashed %v", format, crashed)
		}
		ts.CloseClientConnections()
		ts.Close()
		srv.Close()
	}
}
