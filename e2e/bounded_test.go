package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iron-thumbs/iron_thumbs/internal/faultproxy"
	"github.com/iron-thumbs/iron_thumbs/internal/ironrunner"
	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

// memoryBound is what one transform may use, whatever its source: a route
// memory of 128 MB is always enough.
const memoryBound = 128 << 20

// adversarial are sources shaped to cost much memory for little output:
// tall, wide, square, every depth, palette, grey, interlaced, GIF, noise,
// a 12 MP photo, a 407-byte progressive JPEG claiming 7071×7071 of
// coefficients, a JPEG of 1000 scans.
var adversarial = sync.OnceValue(func() map[string][]byte {
	return map[string][]byte{
		"tall.png":          testimages.SolidPNG(1000, 50000, 8, 0, false),
		"wide.png":          testimages.SolidPNG(50000, 1000, 8, 6, false),
		"square-rgba8.png":  testimages.SolidPNG(7071, 7071, 8, 6, false),
		"square-rgba16.png": testimages.SolidPNG(7071, 7071, 16, 6, false),
		"square-gray16.png": testimages.SolidPNG(7071, 7071, 16, 0, false),
		"square-pal1.png":   testimages.SolidPNG(7071, 7071, 1, 3, false),
		"interlaced.png":    testimages.SolidPNG(7071, 7071, 8, 6, true),
		"square.gif":        testimages.SolidGIF(7071, 7071, false),
		"interlaced.gif":    testimages.SolidGIF(7071, 7071, true),
		"noise.png":         testimages.NoisePNG(1000, 40000, 7),
		"photo-12mp.jpg":    photoJPEG(4000, 3000),
		"bomb.jpg":          testimages.JPEGBomb(7071, 3),
		"scans.jpg":         testimages.JPEGBomb(64, 1000),
	}
})

// photoJPEG is a camera-like JPEG: quality 90, 4:2:0.
func photoJPEG(w, h int) []byte {
	var b bytes.Buffer
	jpeg.Encode(&b, testimages.Photo(w, h, 1), &jpeg.Options{Quality: 90})
	return b.Bytes()
}

// TestMemoryBound runs each adversarial source through a whole cold call,
// at small and at the largest sizes the limits admit, and measures the
// process's peak RSS with GNU time: under 128 MB every time. Sizes whose
// thumbnail would pass the pixel limit are refused from the header.
func TestMemoryBound(t *testing.T) {
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		t.Fatal("GNU time is needed to measure a process's peak memory: run make tools")
	}
	b := newBuckets(t, true)
	ctx := context.Background()
	for name, data := range adversarial() {
		if err := b.images.Put(ctx, name, data, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	r := b.route("default", map[string]string{"thumb-cache": "off", "call-timeout": "60s"})
	r.MeasureRSS = true
	r.Timeout = 90 * time.Second
	cases := []struct {
		name string
		size int
		exit int
	}{
		{"tall.png", 80, 0},
		{"tall.png", 180, 0},
		{"tall.png", 999, 67},
		{"wide.png", 180, 0},
		{"wide.png", 2048, 0},
		{"square-rgba8.png", 180, 0},
		{"square-rgba8.png", 2048, 0},
		{"square-rgba16.png", 2048, 0},
		{"square-gray16.png", 2048, 0},
		{"square-pal1.png", 2048, 0},
		{"interlaced.png", 180, 0},
		{"interlaced.png", 2048, 0},
		{"square.gif", 2048, 0},
		{"interlaced.gif", 2048, 0},
		{"noise.png", 64, 0},
		{"noise.png", 1000, 67},
		{"photo-12mp.jpg", 180, 0},
		{"photo-12mp.jpg", 2048, 0},
		{"bomb.jpg", 180, 0},
		{"bomb.jpg", 2048, 67},
		{"scans.jpg", 64, 65},
	}
	for _, c := range cases {
		res := r.RunCold(ctx, ironrunner.Call{URL: thumbsURL(fmt.Sprintf("filename=%s&size=%d", c.name, c.size))})
		if res.ExitCode != c.exit {
			t.Errorf("%s at %d: exit %d, want %d: %s", c.name, c.size, res.ExitCode, c.exit, res.Stderr)
			continue
		}
		if res.MaxRSSKB == 0 || res.MaxRSSKB<<10 > memoryBound {
			t.Errorf("%s at %d: peak RSS %.1f MiB, bound %d MiB", c.name, c.size, float64(res.MaxRSSKB)/1024, memoryBound>>20)
		}
		if c.exit == 0 {
			if _, w, h := decodeSize(t, res.Body); int64(w)*int64(h) > 2048*2048 {
				t.Errorf("%s at %d: a %dx%d thumbnail passes the pixel limit", c.name, c.size, w, h)
			}
		}
		t.Logf("%s at %d: exit %d, peak RSS %.1f MiB", c.name, c.size, res.ExitCode, float64(res.MaxRSSKB)/1024)
	}
}

// TestThumbPixelLimit: THUMB_MAX_PIXELS refuses a thumbnail from the
// source's header, before a pixel is decoded, and stores nothing.
func TestThumbPixelLimit(t *testing.T) {
	b := newBuckets(t, true)
	r := b.route("default", map[string]string{"thumb-max-pixels": "10000"})
	res := r.RunCold(context.Background(), ironrunner.Call{URL: thumbsURL("filename=computer_cloud_system.png&size=180")})
	if res.ExitCode != 67 || !strings.Contains(res.Stderr, "more than the limit of 10000") {
		t.Errorf("180x180 under a 10,000-pixel limit: exit %d: %s", res.ExitCode, res.Stderr)
	}
	res = r.RunCold(context.Background(), ironrunner.Call{URL: thumbsURL("filename=computer_cloud_system.png&size=100")})
	if res.ExitCode != 0 {
		t.Errorf("100x100 under a 10,000-pixel limit: exit %d: %s", res.ExitCode, res.Stderr)
	}
	if keys := b.keys(t); len(keys) != 1 {
		t.Errorf("stored %q, want the one allowed thumbnail", keys)
	}
}

// cpuTicks is a process's user and system CPU time in clock ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command, which is in parentheses.
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	return utime + stime
}

// TestHotProcessAfterLargeAndAbandonedCalls: a hot process stops working
// as soon as a call gives up (its CPU time stops growing), and gives its
// memory back after a large call.
func TestHotProcessAfterLargeAndAbandonedCalls(t *testing.T) {
	b := newBuckets(t, true)
	ctx := context.Background()
	for _, name := range []string{"tall.png", "interlaced.png"} {
		if err := b.images.Put(ctx, name, adversarial()[name], "", nil); err != nil {
			t.Fatal(err)
		}
	}
	hot := ironrunner.NewHot(b.route("http", map[string]string{"call-timeout": "300ms", "thumb-cache": "off"}))
	defer hot.Close()
	res := hot.Run(ctx, ironrunner.Call{URL: thumbsURL("filename=tall.png&size=180")})
	if res.FnStatus != 504 {
		t.Fatalf("a 1.5 s transform under a 300 ms deadline: %d %s", res.FnStatus, res.Body)
	}
	pid := hot.Procs()[0]
	time.Sleep(time.Second) // the allowance for noticing
	a := cpuTicks(t, pid)
	time.Sleep(time.Second)
	if d := cpuTicks(t, pid) - a; d > 5 {
		t.Errorf("the process used %d ticks of CPU in the second after the call gave up", d)
	}

	hot2 := ironrunner.NewHot(b.route("http", map[string]string{"call-timeout": "60s", "thumb-cache": "off"}))
	defer hot2.Close()
	if res := hot2.Run(ctx, ironrunner.Call{URL: thumbsURL("filename=interlaced.png&size=2048")}); res.FnStatus != 200 {
		t.Fatalf("large call: %d %s", res.FnStatus, res.Body)
	}
	pid = hot2.Procs()[0]
	peak := ironrunner.PeakRSSKB(pid)
	// The call must have been large, or coming back under 64 MiB says
	// nothing; and an RSS of 0 is a process that is gone.
	if peak < 64<<10 {
		t.Fatalf("the large call peaked at %.1f MiB, not above the 64 MiB it must come back under", float64(peak)/1024)
	}
	var rss int64
	for range 50 {
		if rss = ironrunner.RSSKB(pid); rss < 64<<10 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("hot process: peak RSS %.1f MiB, %.1f MiB after the call", float64(peak)/1024, float64(rss)/1024)
	if rss == 0 {
		t.Errorf("no RSS for the hot process after the call: it is gone")
	}
	if rss >= 64<<10 {
		t.Errorf("RSS %.1f MiB five seconds after a large call, want under 64 MiB", float64(rss)/1024)
	}
}

// TestLocalServerAfterAbandonedMisses: misses that hit the deadline free
// their transform slots when their work stops, so the next miss is made,
// not answered 503.
func TestLocalServerAfterAbandonedMisses(t *testing.T) {
	local := startLocal(t, map[string]string{"THUMB_CONCURRENCY": "2", "CALL_TIMEOUT": "300ms"},
		map[string][]byte{"tall.png": adversarial()["tall.png"], "tall2.png": adversarial()["tall.png"]})
	var wg sync.WaitGroup
	for _, name := range []string{"tall.png", "tall2.png"} {
		wg.Go(func() {
			if resp, body := local.get(t, "/thumbs?filename="+name+"&size=180"); resp.StatusCode != 504 {
				t.Errorf("%s: %d %s, want 504", name, resp.StatusCode, body)
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(time.Second)
	for {
		resp, body := local.get(t, "/thumbs?filename=computer_cloud_system.png&size=100")
		if resp.StatusCode == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a second after two abandoned misses: %d %s", resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBucketsApart: originals and thumbnails in one bucket, or in one
// folder or nested folders, are a configuration error.
func TestBucketsApart(t *testing.T) {
	b := newBuckets(t, true)
	r := b.route("default", map[string]string{"thumb-bucket": b.images.Name()})
	res := r.RunCold(context.Background(), ironrunner.Call{URL: thumbsURL("filename=gray.png&size=10")})
	if res.ExitCode != 78 || !strings.Contains(res.Stderr, "THUMB_BUCKET: must differ from IMAGE_BUCKET") {
		t.Errorf("one bucket for both: exit %d: %s", res.ExitCode, res.Stderr)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "images"), 0o755)
	for thumbs, msg := range map[string]string{"images": "must differ from IMAGE_BUCKET", "images/thumbs": "one inside the other"} {
		res := command(t, map[string]string{"THUMB_BUCKET": thumbs}, "serve", "-addr", "127.0.0.1:0", "-local", dir)
		if res.code != 78 || !strings.Contains(res.stderr, msg) {
			t.Errorf("THUMB_BUCKET=%s: serve exit %d: %s", thumbs, res.code, res.stderr)
		}
	}
}

// TestStorageFaultsBounded: what a misbehaving S3 server costs a call.
func TestStorageFaultsBounded(t *testing.T) {
	ctx := context.Background()
	call := ironrunner.Call{URL: thumbsURL("filename=computer_cloud_system.png&size=90")}

	t.Run("a stalling write does not cost the thumbnail", func(t *testing.T) {
		b, p, r := withFaults(t, nil)
		p.Add(faultproxy.Rule{Method: "PUT", PathContains: "/" + b.thumbs.Name() + "/", Delay: 30 * time.Second})
		start := time.Now()
		res := r.RunCold(ctx, call)
		if res.ExitCode != 0 || !strings.Contains(res.Stderr, "storing thumbnail failed") {
			t.Errorf("exit %d: %s", res.ExitCode, res.Stderr)
		}
		if _, w, _ := decodeSize(t, res.Body); w != 90 {
			t.Errorf("width %d", w)
		}
		// The write's own deadline: 2 s plus 1 s per MB.
		if d := time.Since(start); d > thumbs.StoreTimeout(len(res.Body))+2*time.Second {
			t.Errorf("answered after %v", d)
		}
	})
	t.Run("a short hit is remade, never served", func(t *testing.T) {
		b, p, r := withFaults(t, nil)
		whole := r.RunCold(ctx, call)
		if whole.ExitCode != 0 {
			t.Fatalf("first call: %s", whole.Stderr)
		}
		key := thumbs.Request{Filename: "computer_cloud_system.png", Width: 90}.Key()
		p.Add(faultproxy.Rule{Method: "GET", PathContains: "/" + b.thumbs.Name() + "/" + key, Truncate: 100, Times: 1})
		res := r.RunCold(ctx, call)
		if res.ExitCode != 0 || !bytes.Equal(res.Body, whole.Body) {
			t.Errorf("exit %d, %d bytes; want the whole %d-byte thumbnail", res.ExitCode, len(res.Body), len(whole.Body))
		}
		if !strings.Contains(res.Stderr, "level=WARN") || !strings.Contains(res.Stderr, "damaged") || !strings.Contains(res.Stderr, "outcome=miss") {
			t.Errorf("log: %s", res.Stderr)
		}
	})
	t.Run("dropped connections are a fast 503", func(t *testing.T) {
		_, p, r := withFaults(t, nil)
		p.Add(faultproxy.Rule{Drop: true, Times: -1})
		start := time.Now()
		res := r.RunCold(ctx, call)
		if res.ExitCode != 69 || time.Since(start) > 3*time.Second {
			t.Errorf("exit %d after %v: %s", res.ExitCode, time.Since(start), res.Stderr)
		}
	})
	t.Run("an unanswered connect is a 503 within the connect bound", func(t *testing.T) {
		addr := silentListener(t)
		b := newBuckets(t, true)
		r := b.route("default", map[string]string{"s3-endpoint": "http://" + addr})
		start := time.Now()
		res := r.RunCold(ctx, call)
		if res.ExitCode != 69 || time.Since(start) > 4*time.Second {
			t.Errorf("exit %d after %v: %s", res.ExitCode, time.Since(start), res.Stderr)
		}
	})
	t.Run("an unknown access key is a refusal, not a missing original", func(t *testing.T) {
		b := newBuckets(t, true)
		r := b.route("default", map[string]string{"s3-access-key": "no-such-user"})
		res := r.RunCold(ctx, call)
		if res.ExitCode != 69 || !strings.Contains(res.Stderr, "storage refused access") {
			t.Errorf("exit %d: %s", res.ExitCode, res.Stderr)
		}
		hot := ironrunner.NewHot(b.route("http", map[string]string{"s3-access-key": "no-such-user"}))
		defer hot.Close()
		if res := hot.Run(ctx, call); res.FnStatus != 502 {
			t.Errorf("hot: %d %s, want 502", res.FnStatus, res.Body)
		}
	})
}

// silentListener returns a loopback address whose listen queue is full:
// a connect to it is never answered.
func silentListener(t *testing.T) string {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the queue; nothing ever accepts.
	for range 4 {
		d := net.Dialer{Timeout: 200 * time.Millisecond}
		if c, err := d.Dial("tcp", addr); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return addr
}

// TestNoSecretsToClients: a hot route's client reads error bodies (with
// status 200 through IronFunctions 0.2): a bad setting is named, its value
// never shown, and the log has it without the credentials.
func TestNoSecretsToClients(t *testing.T) {
	b := newBuckets(t, true)
	var log syncBuffer
	r := b.route("http", map[string]string{"s3-endpoint": "ftp://admin:pa55word@minio.internal:9000"})
	r.Stderr = &log
	hot := ironrunner.NewHot(r)
	defer hot.Close()
	res := hot.Run(context.Background(), ironrunner.Call{URL: thumbsURL("filename=gray.png&size=10")})
	if res.FnStatus != 500 || !strings.Contains(string(res.Body), "S3_ENDPOINT: want a URL starting with http:// or https://") {
		t.Errorf("function answered %d %s", res.FnStatus, res.Body)
	}
	hot.Close()
	for _, secret := range []string{"pa55word", "admin"} {
		if strings.Contains(string(res.Body), secret) || strings.Contains(log.String(), secret) {
			t.Errorf("%q shown: body %s, log %s", secret, res.Body, log.String())
		}
	}
	if !strings.Contains(log.String(), "minio.internal") {
		t.Errorf("the log does not say which endpoint: %s", log.String())
	}
}

// TestSlowClientsHoldNothing: connections that send a header announcing a
// body and never send it are cut by the local server's read timeout, and
// the server answers others meanwhile.
func TestSlowClientsHoldNothing(t *testing.T) {
	local := startLocal(t, nil, nil)
	addr := strings.TrimPrefix(local.URL, "http://")
	fds := func() int {
		entries, err := os.ReadDir("/proc/" + strconv.Itoa(local.cmd.Process.Pid) + "/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	before := fds()
	var conns []net.Conn
	for range 200 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET /thumbs?filename=gray.png&size=20 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	if resp, body := local.get(t, "/thumbs?filename=gray.png&size=21"); resp.StatusCode != 200 {
		t.Errorf("meanwhile: %d %s", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("meanwhile answered after %v", d)
	}
	deadline := time.Now().Add(20 * time.Second)
	for fds() > before+5 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if n := fds(); n > before+5 {
		t.Errorf("%d descriptors held 20 s later (%d before)", n, before)
	}
}

// TestFIFOAmongOriginals: a FIFO in the images folder is refused at once
// and holds no transform slot.
func TestFIFOAmongOriginals(t *testing.T) {
	local := startLocal(t, map[string]string{"THUMB_CONCURRENCY": "1"}, nil)
	if err := syscall.Mkfifo(filepath.Join(local.Dir, "images", "pipe.png"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, body := local.get(t, "/thumbs?filename=pipe.png&size=20")
	if resp.StatusCode != 404 || time.Since(start) > 2*time.Second {
		t.Errorf("FIFO: %d %s after %v", resp.StatusCode, body, time.Since(start))
	}
	if resp, body := local.get(t, "/thumbs?filename=gray.png&size=20"); resp.StatusCode != 200 {
		t.Errorf("next call: %d %s", resp.StatusCode, body)
	}
}

// TestHotSIGTERM: an idle hot process exits 0 at once on SIGTERM; a busy
// one answers the call in progress, then exits 0.
func TestHotSIGTERM(t *testing.T) {
	b := newBuckets(t, true)
	ctx := context.Background()
	b.images.Put(ctx, "tall.png", adversarial()["tall.png"], "", nil)
	hot := ironrunner.NewHot(b.route("http", map[string]string{"thumb-cache": "off", "call-timeout": "20s"}))
	defer hot.Close()
	if res := hot.Run(ctx, ironrunner.Call{URL: thumbsURL("filename=gray.png&size=10")}); res.FnStatus != 200 {
		t.Fatal(res.FnStatus)
	}
	pid := hot.Procs()[0]
	syscall.Kill(pid, syscall.SIGTERM)
	if code := hot.ExitCode(pid, 2*time.Second); code != 0 {
		t.Errorf("idle: exit %d within 2 s of SIGTERM, want 0", code)
	}

	done := make(chan ironrunner.Result, 1)
	go func() { done <- hot.Run(ctx, ironrunner.Call{URL: thumbsURL("filename=tall.png&size=180")}) }()
	var busy int
	for busy == 0 {
		if pids := hot.Procs(); len(pids) == 1 {
			busy = pids[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // inside the 1.5 s transform
	syscall.Kill(busy, syscall.SIGTERM)
	res := <-done
	if res.FnStatus != 200 {
		t.Errorf("the call in progress: %d %.100s", res.FnStatus, res.Body)
	}
	if code := hot.ExitCode(busy, 2*time.Second); code != 0 {
		t.Errorf("busy: exit %d within 2 s of answering, want 0", code)
	}
}
