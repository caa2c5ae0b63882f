package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iron-thumbs/iron_thumbs/internal/faultproxy"
	"github.com/iron-thumbs/iron_thumbs/internal/ironrunner"
	"github.com/iron-thumbs/iron_thumbs/internal/s3test"
	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
	"github.com/iron-thumbs/iron_thumbs/urlsig"
)

// hostileObjects are originals no call may turn into a thumbnail.
func hostileObjects(t *testing.T) map[string][]byte {
	cloud := mustRead(t, "../testdata/computer_cloud_system.png")
	badCRC := bytes.Clone(cloud)
	badCRC[29] ^= 0xff
	big := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, (3<<20)/4)
	return map[string][]byte{
		"notes.png":     []byte("not an image at all"),
		"truncated.png": cloud[:len(cloud)/2],
		"badcrc.png":    badCRC,
		"bomb.png":      testimages.Bomb(20000, 20000),
		"big.png":       big,
		"gray.png":      mustRead(t, "../testdata/gray.png"),
	}
}

// hostileCases are bad inputs with the answer each door must give.
var hostileCases = []struct {
	name  string
	query string
	exit  int
	msg   string
}{
	{"no parameters", "", 64, "missing filename"},
	{"missing filename", "size=10", 64, "missing filename"},
	{"missing size", "filename=gray.png", 64, "missing size"},
	{"size 0", "filename=gray.png&size=0", 64, "whole number"},
	{"negative size", "filename=gray.png&size=-5", 64, "whole number"},
	{"float size", "filename=gray.png&size=1.5", 64, "whole number"},
	{"hex size", "filename=gray.png&size=0x10", 64, "whole number"},
	{"huge size", "filename=gray.png&size=99999", 64, "larger than the maximum"},
	{"overflowing size", "filename=gray.png&size=99999999999999999999999999", 64, "larger than the maximum"},
	{"dot dot", "filename=..%2Fgray.png&size=10", 64, "path segment"},
	{"absolute", "filename=%2Fetc%2Fpasswd&size=10", 64, "starts with /"},
	{"NUL", "filename=gray%00.png&size=10", 64, "control character"},
	{"newline", "filename=gray%0A.png&size=10", 64, "control character"},
	{"invalid UTF-8", "filename=%FF%FE.png&size=10", 64, "UTF-8"},
	{"5000-byte filename", "filename=" + strings.Repeat("a", 5000) + "&size=10", 64, "more than 1000"},
	{"garbage query", "%%%;&&=", 64, "malformed query"},
	{"not an image", "filename=notes.png&size=10", 65, "unsupported image"},
	{"truncated PNG", "filename=truncated.png&size=10", 65, "corrupt image"},
	{"bad CRC", "filename=badcrc.png&size=10", 65, "corrupt image"},
	{"decompression bomb", "filename=bomb.png&size=10", 67, "too large"},
	{"oversized source", "filename=big.png&size=10", 67, "more than the limit"},
	{"missing original", "filename=nope.png&size=10", 66, "original not found"},
}

var statusOfExit = map[int]int{64: 400, 65: 415, 66: 404, 67: 413}

// TestHostileInput sends every bad input through the three doors: cold
// (exit code and one stderr line), hot and local (status and JSON error).
// Nothing may reach the thumbs bucket, and the processes keep serving.
func TestHostileInput(t *testing.T) {
	b := newBuckets(t, true)
	ctx := context.Background()
	objects := hostileObjects(t)
	for name, data := range objects {
		if err := b.images.Put(ctx, name, data, "image/png", nil); err != nil {
			t.Fatal(err)
		}
	}
	limits := map[string]string{"max-source-bytes": "2000000"}
	cold := b.route("default", limits)
	hot := ironrunner.NewHot(b.route("http", limits))
	defer hot.Close()
	// The local door, on folders holding the same originals.
	localEnv := map[string]string{"MAX_SOURCE_BYTES": "2000000"}
	local := startLocal(t, localEnv, objects)

	for _, c := range hostileCases {
		res := cold.RunCold(ctx, ironrunner.Call{URL: thumbsURL(c.query)})
		if res.ExitCode != c.exit || len(res.Stdout) != 0 || !strings.Contains(res.Stderr, c.msg) ||
			strings.Count(strings.TrimSpace(res.Stderr), "\n") != 0 {
			t.Errorf("cold, %s: exit %d, %d bytes out, stderr %q; want exit %d, one line with %q",
				c.name, res.ExitCode, len(res.Stdout), res.Stderr, c.exit, c.msg)
		}
		if strings.Contains(res.Stderr, s3.SecretKey) || strings.Contains(res.Stderr, s3.AccessKey) {
			t.Errorf("cold, %s: credentials in the log: %q", c.name, res.Stderr)
		}
		res = hot.Run(ctx, ironrunner.Call{URL: thumbsURL(c.query)})
		checkJSONError(t, "hot, "+c.name, res.FnStatus, res.Body, statusOfExit[c.exit], c.msg)
		resp, body := local.get(t, "/r/iron_thumbs/thumbs?"+c.query)
		checkJSONError(t, "local, "+c.name, resp.StatusCode, body, statusOfExit[c.exit], c.msg)
	}
	if keys := b.keys(t); len(keys) != 0 {
		t.Errorf("bad input stored %q", keys)
	}
	if entries, _ := os.ReadDir(filepath.Join(local.Dir, "thumbs")); len(entries) != 0 {
		t.Errorf("bad input stored %d local entries", len(entries))
	}
	// Still serving.
	if res := hot.Run(ctx, ironrunner.Call{URL: thumbsURL("filename=gray.png&size=20")}); res.FnStatus != 200 {
		t.Errorf("hot process after the bad input: %d %s", res.FnStatus, res.Body)
	}
	if n := len(hot.Procs()); n != 1 {
		t.Errorf("%d hot processes, want the one that served everything", n)
	}
}

func checkJSONError(t *testing.T, name string, status int, body []byte, wantStatus int, msg string) {
	t.Helper()
	var e struct {
		Error struct{ Message string }
	}
	if err := json.Unmarshal(body, &e); err != nil || status != wantStatus || !strings.Contains(e.Error.Message, msg) {
		t.Errorf("%s: %d %.100q; want %d with the JSON error %q", name, status, body, wantStatus, msg)
	}
}

// TestPeakMemory measures cold calls' peak RSS on the bomb and on a
// 12 MP photo, against the bounds the README documents.
func TestPeakMemory(t *testing.T) {
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		t.Fatal("GNU time is needed to measure a process's peak memory: run make tools")
	}
	b := newBuckets(t, true)
	ctx := context.Background()
	b.images.Put(ctx, "bomb.png", testimages.Bomb(20000, 20000), "image/png", nil)
	b.images.Put(ctx, "photo12.png", testimages.EncodePNG(testimages.Photo(4000, 3000, 1)), "image/png", nil)
	r := b.route("default", map[string]string{"thumb-cache": "off"})
	r.MeasureRSS = true
	cases := []struct {
		query  string
		exit   int
		boundM int64
	}{
		{"filename=bomb.png&size=180", 67, 64},
		{"filename=photo12.png&size=180", 0, 64},
	}
	for _, c := range cases {
		res := r.RunCold(ctx, ironrunner.Call{URL: thumbsURL(c.query)})
		if res.ExitCode != c.exit {
			t.Fatalf("%s: exit %d: %s", c.query, res.ExitCode, res.Stderr)
		}
		if res.MaxRSSKB == 0 || res.MaxRSSKB > c.boundM<<10 {
			t.Errorf("%s: peak RSS %d KiB, bound %d MiB", c.query, res.MaxRSSKB, c.boundM)
		}
		t.Logf("%s: peak RSS %.1f MiB (bound %d MiB)", c.query, float64(res.MaxRSSKB)/1024, c.boundM)
	}
}

// TestStorageFaults puts a fault-injecting proxy between the function and
// the S3 server.
func TestStorageFaults(t *testing.T) {
	ctx := context.Background()
	call := ironrunner.Call{URL: thumbsURL("filename=gray.png&size=40")}

	t.Run("slow server hits the call deadline", func(t *testing.T) {
		b, p, r := withFaults(t, map[string]string{"call-timeout": "1s"})
		p.Add(faultproxy.Rule{Method: "GET", PathContains: "/" + b.images.Name() + "/", Delay: 10 * time.Second})
		start := time.Now()
		res := r.RunCold(ctx, call)
		if res.ExitCode != 75 || !strings.Contains(res.Stderr, "deadline") {
			t.Errorf("exit %d, stderr %q; want 75, deadline", res.ExitCode, res.Stderr)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("answered after %v", d)
		}
	})
	t.Run("503 is retried", func(t *testing.T) {
		b, p, r := withFaults(t, nil)
		p.Add(faultproxy.Rule{Method: "GET", PathContains: "/" + b.images.Name() + "/gray.png", Status: 503, Times: 2})
		res := r.RunCold(ctx, call)
		if res.ExitCode != 0 {
			t.Errorf("exit %d: %s", res.ExitCode, res.Stderr)
		}
		if n := p.Count("GET", "/"+b.images.Name()+"/gray.png"); n != 3 {
			t.Errorf("%d GETs of the original, want 3 (two refused, one served)", n)
		}
	})
	t.Run("500 retries are bounded", func(t *testing.T) {
		b, p, r := withFaults(t, nil)
		p.Add(faultproxy.Rule{Method: "GET", PathContains: "/" + b.images.Name() + "/", Status: 500, Times: -1})
		start := time.Now()
		res := r.RunCold(ctx, call)
		if res.ExitCode != 69 || !strings.Contains(res.Stderr, "storage unavailable") {
			t.Errorf("exit %d, stderr %q; want 69", res.ExitCode, res.Stderr)
		}
		if n := p.Count("GET", "/"+b.images.Name()+"/"); n != 3 {
			t.Errorf("%d tries, want 3", n)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("answered after %v", d)
		}
	})
	t.Run("thumbs bucket refusing writes", func(t *testing.T) {
		b, p, r := withFaults(t, nil)
		p.Add(faultproxy.Rule{Method: "PUT", PathContains: "/" + b.thumbs.Name() + "/", Status: 403, Times: -1})
		res := r.RunCold(ctx, call)
		if res.ExitCode != 0 || !strings.Contains(res.Stderr, "storing thumbnail failed") {
			t.Errorf("exit %d, stderr %q; want the thumbnail and a logged failure", res.ExitCode, res.Stderr)
		}
		if _, w, _ := decodeSize(t, res.Body); w != 40 {
			t.Errorf("width %d", w)
		}
		if keys := b.keys(t); len(keys) != 0 {
			t.Errorf("stored %q", keys)
		}
	})
	t.Run("storage stopped", func(t *testing.T) {
		srv, err := s3test.Launch(t.TempDir(), "images", "thumbs")
		if err != nil {
			t.Fatal(err)
		}
		srv.Stop()
		r := &ironrunner.Route{App: "iron_thumbs", Path: "/thumbs", Binary: binary, AppConfig: map[string]string{
			"S3_ENDPOINT": srv.Endpoint, "S3_ACCESS_KEY": srv.AccessKey, "S3_SECRET_KEY": srv.SecretKey}}
		start := time.Now()
		res := r.RunCold(ctx, call)
		if res.ExitCode != 69 || time.Since(start) > 5*time.Second {
			t.Errorf("exit %d after %v: %s", res.ExitCode, time.Since(start), res.Stderr)
		}
	})
	t.Run("hot call past the deadline is answered and the process goes on", func(t *testing.T) {
		b, p, _ := withFaults(t, nil)
		p.Add(faultproxy.Rule{Method: "GET", PathContains: "/" + b.images.Name() + "/slow.png", Delay: 10 * time.Second})
		r := b.route("http", map[string]string{"s3-endpoint": p.URL, "call-timeout": "1s"})
		hot := ironrunner.NewHot(r)
		defer hot.Close()
		res := hot.Run(ctx, ironrunner.Call{URL: thumbsURL("filename=slow.png&size=10")})
		if res.FnStatus != 504 {
			t.Errorf("slow call: %d %s", res.FnStatus, res.Body)
		}
		if res := hot.Run(ctx, call); res.FnStatus != 200 {
			t.Errorf("next call: %d %s", res.FnStatus, res.Body)
		}
	})
}

// TestConcurrentColdMisses: ten processes making the same thumbnail at
// once all answer the same bytes, and what is stored decodes.
func TestConcurrentColdMisses(t *testing.T) {
	b := newBuckets(t, true)
	r := b.route("default", nil)
	var wg sync.WaitGroup
	bodies := make([][]byte, 10)
	for i := range bodies {
		wg.Go(func() {
			res := r.RunCold(context.Background(), ironrunner.Call{URL: thumbsURL("filename=computer_cloud_system.png&size=150")})
			if res.ExitCode != 0 {
				t.Errorf("call %d: exit %d %s", i, res.ExitCode, res.Stderr)
			}
			bodies[i] = res.Body
		})
	}
	wg.Wait()
	for i := range bodies {
		if !bytes.Equal(bodies[i], bodies[0]) {
			t.Fatalf("call %d answered other bytes", i)
		}
	}
	obj, err := b.thumbs.Get(context.Background(), thumbs.KeyVersion+"/150/computer_cloud_system.png")
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if !bytes.Equal(stored, bodies[0]) {
		t.Error("the stored thumbnail differs from the answers")
	}
	decodeSize(t, stored)
}

func TestConcurrentLocalMisses(t *testing.T) {
	local := startLocal(t, nil, nil)
	var wg sync.WaitGroup
	bodies := make([][]byte, 10)
	for i := range bodies {
		wg.Go(func() {
			resp, err := http.Get(local.URL + "/thumbs?filename=computer_cloud_system.png&size=77")
			if err != nil {
				t.Error(err)
				return
			}
			bodies[i], _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 && resp.StatusCode != 503 {
				t.Errorf("call %d: %d", i, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	var first []byte
	for i, b := range bodies {
		if bytes.HasPrefix(b, []byte("{")) {
			continue // 503: over the transform bound, retry later
		}
		if first == nil {
			first = b
		} else if !bytes.Equal(b, first) {
			t.Fatalf("call %d answered other bytes", i)
		}
	}
	if first == nil {
		t.Fatal("no call got a thumbnail")
	}
	decodeSize(t, first)
}

// TestHotMemoryFlat: 10,000 calls through one hot process, RSS growth from
// call 1,000 to call 10,000 under 20 MB.
func TestHotMemoryFlat(t *testing.T) {
	b := newBuckets(t, true)
	hot := ironrunner.NewHot(b.route("http", nil))
	defer hot.Close()
	ctx := context.Background()
	var at1000 int64
	for i := 1; i <= 10_000; i++ {
		q := "filename=gray.png&size=30"
		if i%2 == 0 {
			q = fmt.Sprintf("filename=gray.png&size=%d.5", i) // a bad request
		}
		res := hot.Run(ctx, ironrunner.Call{URL: thumbsURL(q)})
		if (i%2 == 1) != (res.FnStatus == 200) {
			t.Fatalf("call %d: %d %s", i, res.FnStatus, res.Body)
		}
		if i == 1000 {
			at1000 = ironrunner.RSSKB(hot.Procs()[0])
		}
	}
	at10000 := ironrunner.RSSKB(hot.Procs()[0])
	t.Logf("RSS at call 1,000: %d KiB; at call 10,000: %d KiB", at1000, at10000)
	if at1000 == 0 || at10000-at1000 > 20<<10 {
		t.Errorf("RSS grew from %d KiB to %d KiB", at1000, at10000)
	}
}

// TestSignAndPurgeCommands runs the admin commands against the real store.
func TestSignAndPurgeCommands(t *testing.T) {
	b := newBuckets(t, true)
	ctx := context.Background()
	env := map[string]string{
		"S3_ENDPOINT": s3.Endpoint, "S3_ACCESS_KEY": s3.AccessKey, "S3_SECRET_KEY": s3.SecretKey,
		"IMAGE_BUCKET": b.images.Name(), "THUMB_BUCKET": b.thumbs.Name(), "SIGNING_KEY": "k",
	}
	res := command(t, env, "sign", "-ttl", "1h", "gray.png", "60")
	if res.code != 0 {
		t.Fatalf("sign: %d %s", res.code, res.stderr)
	}
	signed := strings.TrimSpace(res.stdout)
	if !strings.Contains(signed, "sig=") || !strings.Contains(signed, "exp=") {
		t.Fatalf("signed URL %q", signed)
	}
	r := b.route("default", map[string]string{"signing-key": "k"})
	_, query, _ := strings.Cut(signed, "?")
	if res := r.RunCold(ctx, ironrunner.Call{URL: thumbsURL(query)}); res.ExitCode != 0 {
		t.Errorf("signed call: exit %d %s", res.ExitCode, res.Stderr)
	}
	if res := r.RunCold(ctx, ironrunner.Call{URL: thumbsURL("filename=gray.png&size=60")}); res.ExitCode != 77 {
		t.Errorf("unsigned call: exit %d, want 77", res.ExitCode)
	}
	q2 := urlsig.Query([]byte("k"), "gray.png", 70, 0, time.Now())
	r.RunCold(ctx, ironrunner.Call{URL: thumbsURL(q2)})
	if keys := b.keys(t); len(keys) != 2 {
		t.Fatalf("stored %q", keys)
	}
	res = command(t, env, "purge", "gray.png")
	if res.code != 0 {
		t.Fatalf("purge: %d %s", res.code, res.stderr)
	}
	if strings.Count(res.stdout, "deleted ") != 2 || len(b.keys(t)) != 0 {
		t.Errorf("purge said %q, left %q", res.stdout, b.keys(t))
	}
}

// withFaults gives a test its own buckets behind a fault-injecting proxy,
// and a cold route through the proxy with the extra settings.
func withFaults(t *testing.T, extra map[string]string) (buckets, *faultproxy.Proxy, *ironrunner.Route) {
	t.Helper()
	b := newBuckets(t, true)
	p, err := faultproxy.New(s3.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	cfg := map[string]string{"s3-endpoint": p.URL}
	for k, v := range extra {
		cfg[k] = v
	}
	return b, p, b.route("default", cfg)
}
