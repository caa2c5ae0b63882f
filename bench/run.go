package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/iron-thumbs/iron_thumbs/internal/ironrunner"
	"github.com/iron-thumbs/iron_thumbs/internal/s3test"
	"github.com/iron-thumbs/iron_thumbs/resize"
	"github.com/iron-thumbs/iron_thumbs/s3store"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

// scenario is one row of the table.
type scenario struct {
	name  string
	door  string // cold, hot, local, presigned, mixed
	image string
	cache bool
	n     int
	c     int // concurrent clients; the run's -c when zero
}

const (
	small   = "computer_cloud_system.png"
	wide    = "screenshot_1920x1080.png"
	photo   = "photo_4000x3000.png"
	jpeg12  = "photo_4000x3000.jpg"
	jpeg12p = "photo_4000x3000_progressive.jpg"
	jpeg48  = "photo_8000x6000.jpg"
)

// scenarios are the rows of the table. They keep their names from run to
// run, so two runs (before and after a change) read side by side: the
// "always make" rows make their thumbnail on every call (THUMB_CACHE=off
// shares nothing), the 400 px ones being the small miss.
func scenarios(quick bool) []scenario {
	all := []scenario{
		{"cold, cached, 400 px", "cold", small, true, 1000, 0},
		{"cold, always make, 400 px", "cold", small, false, 1000, 0},
		{"hot, cached, 400 px", "hot", small, true, 1000, 0},
		{"hot, always make, 400 px", "hot", small, false, 1000, 0},
		{"S3 presigned GET of the thumbnail (floor)", "presigned", small, true, 1000, 0},
		{"local door, cached, 400 px", "local", small, true, 1000, 0},
		{"local door, always make, 400 px", "local", small, false, 1000, 0},
		{"cold, cached, 1920×1080", "cold", wide, true, 300, 0},
		{"cold, always make, 1920×1080", "cold", wide, false, 100, 0},
		{"hot, cached, 1920×1080", "hot", wide, true, 300, 0},
		{"hot, always make, 1920×1080", "hot", wide, false, 100, 0},
		{"cold, cached, 4000×3000", "cold", photo, true, 300, 0},
		{"cold, always make, 4000×3000", "cold", photo, false, 20, 0},
		{"hot, cached, 4000×3000", "hot", photo, true, 300, 0},
		{"hot, always make, 4000×3000", "hot", photo, false, 30, 0},
		{"cold, cached, 4000×3000 JPEG", "cold", jpeg12, true, 300, 0},
		{"cold, always make, 4000×3000 JPEG", "cold", jpeg12, false, 20, 0},
		{"hot, cached, 4000×3000 JPEG", "hot", jpeg12, true, 300, 0},
		{"hot, always make, 4000×3000 JPEG", "hot", jpeg12, false, 30, 0},
		{"hot, mixed: 3 images × 7 widths, cached", "mixed", "", true, 500, 0},
		{"hot, cached, 400 px, one client", "hot", small, true, 500, 1},
		{"S3 presigned GET of the thumbnail, one client (floor)", "presigned", small, true, 500, 1},
	}
	if quick {
		for i := range all {
			all[i].n = 4
		}
	}
	return all
}

var mixedWidths = []int{64, 90, 120, 180, 240, 320, 360}

// Row is a scenario's result.
type Row struct {
	Scenario string
	Clients  int
	// Bytes is the size of the thumbnail answered; 0 when it varies.
	Bytes int
	Stats
}

// env is what the scenarios share.
type env struct {
	o        Options
	bin      string
	naive    string // the first-attempt function, bench/naive
	s3       *s3test.Server
	images   map[string][]byte
	expected map[string][]byte // image -> its 180 px thumbnail
	started  procs
	concur   int
}

// Run runs every scenario and returns the report; it writes the results
// folder when o.Results is set.
func Run(ctx context.Context, o Options) (*Report, error) {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	work, err := filepath.Abs(o.Work)
	if err != nil {
		return nil, err
	}
	if o.MaxConcurrency < 1 {
		o.MaxConcurrency = 1
	}
	if o.Concurrency < 1 {
		o.Concurrency = 10
	}
	e := &env{o: o, concur: o.Concurrency}
	if e.bin = o.Bin; e.bin == "" {
		logf("building the function")
		if e.bin, err = build(work); err != nil {
			return nil, err
		}
	}
	imgDir := filepath.Join(work, "images")
	if o.Quick {
		imgDir = filepath.Join(work, "images-quick")
	}
	logf("building the naive function (bench/naive)")
	if e.naive, err = buildNaive(work); err != nil {
		return nil, err
	}
	logf("drawing the bench images (once)")
	var notes []string
	if e.images, notes, err = ensureImages(imgDir, o.Quick); err != nil {
		return nil, err
	}
	e.expected = map[string][]byte{}
	for name, data := range e.images {
		res, err := resize.Thumbnail(ctx, bytes.NewReader(data), resize.Options{Width: 180})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		e.expected[name] = res.Data
	}
	s3dir := filepath.Join(work, "s3")
	os.RemoveAll(s3dir)
	logf("starting versitygw")
	if e.s3, err = s3test.Launch(s3dir, "images", "thumbs", naiveThumbs); err != nil {
		return nil, err
	}
	e.started = append(e.started, e.s3.Pid())
	defer e.s3.Stop()
	images := s3store.New(e.s3.Client(), "images")
	for name, data := range e.images {
		if err := images.Put(ctx, name, data, http.DetectContentType(data), nil); err != nil {
			return nil, err
		}
	}
	rep := &Report{Machine: machine(), Build: e.version(ctx), Quick: o.Quick, Tool: "ab", Notes: notes}
	if !haveAB() {
		rep.Tool = "load (ab not installed)"
	}
	var runErr error
	for _, sc := range scenarios(o.Quick) {
		if o.Only != "" && !strings.Contains(sc.name, o.Only) {
			continue
		}
		if ctx.Err() != nil {
			runErr = ctx.Err()
			break
		}
		logf("%-45s n=%d c=%d", sc.name, sc.n, e.clients(sc))
		st, err := e.run(ctx, sc)
		if err != nil {
			runErr = fmt.Errorf("%s: %w", sc.name, err)
			break
		}
		logf("  %.1f req/s, mean %.1f ms, p99 %.0f ms, failed %d, non-2xx %d", st.RPS, st.MeanMS, st.P99MS, st.Failed, st.Non2xx)
		row := Row{Scenario: sc.name, Stats: st, Clients: e.clients(sc)}
		if sc.door != "mixed" {
			row.Bytes = len(e.expected[sc.image])
		}
		rep.Rows = append(rep.Rows, row)
	}
	if runErr == nil && (o.Only == "" || strings.Contains("libvips", o.Only)) {
		logf("against libvips")
		rep.Vips, runErr = e.vips(ctx, imgDir)
	}
	if runErr == nil && (o.Only == "" || strings.Contains("naive", o.Only)) {
		logf("cold CPU per call, against the naive function")
		rep.CPU, runErr = e.cpu(ctx)
	}
	e.s3.Stop()
	if alive := e.started.alive(); len(alive) > 0 {
		err := fmt.Errorf("processes still running after the bench: %v", alive)
		runErr = errors.Join(runErr, err)
	}
	if runErr != nil {
		return rep, runErr
	}
	if o.Results != "" {
		if err := rep.Write(o.Results); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// version names the function's build, for the report.
func (e *env) version(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, e.bin, "version").Output()
	if err != nil {
		return "unknown build"
	}
	return strings.TrimSpace(string(out))
}

func (e *env) route(format string, cache bool) *ironrunner.Route {
	cacheSetting := "on"
	if !cache {
		cacheSetting = "off"
	}
	return &ironrunner.Route{
		App: "iron_thumbs", Path: "/thumbs", Binary: e.bin, Format: format,
		MaxConcurrency: e.o.MaxConcurrency, Timeout: 60 * time.Second, MeasureRSS: true,
		AppConfig: map[string]string{
			"S3_ENDPOINT": e.s3.Endpoint, "S3_ACCESS_KEY": e.s3.AccessKey, "S3_SECRET_KEY": e.s3.SecretKey,
			"THUMB_CACHE": cacheSetting, "CALL_TIMEOUT": "50s",
		},
	}
}

// check fetches url once and compares the body with the expected thumbnail.
func check(url string, want []byte) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || !bytes.Equal(got, want) {
		return fmt.Errorf("GET %s: %d, %d bytes (%.60q), want the %d-byte thumbnail", url, resp.StatusCode, len(got), got, len(want))
	}
	return nil
}

// clients is a scenario's concurrent clients: never more than its
// requests, which ab refuses (a quick run).
func (e *env) clients(sc scenario) int { return min(cmp.Or(sc.c, e.concur), sc.n) }

func (e *env) load(ctx context.Context, urls []string, n, c int) (Stats, error) {
	if c == 0 {
		c = e.concur
	}
	c = min(c, n)
	if len(urls) == 1 && haveAB() {
		return runAB(ctx, urls[0], n, c)
	}
	return runLoad(ctx, urls, n, c), nil
}

// peak tracks the largest peak RSS of cold processes.
type peak struct{ kb atomic.Int64 }

func (p *peak) see(kb int64) {
	for {
		cur := p.kb.Load()
		if kb <= cur || p.kb.CompareAndSwap(cur, kb) {
			return
		}
	}
}

func (e *env) run(ctx context.Context, sc scenario) (Stats, error) {
	query := thumbsQuery(sc.image, 180)
	switch sc.door {
	case "cold", "hot", "mixed":
		format := "default"
		if sc.door != "cold" {
			format = "http"
		}
		r := e.route(format, sc.cache)
		var pk peak
		srv := &ironrunner.Server{Route: r, OnResult: func(res ironrunner.Result) { pk.see(res.MaxRSSKB) }}
		base, stop, err := serveHTTP(srv)
		if err != nil {
			return Stats{}, err
		}
		defer stop()
		defer srv.Close()
		var urls []string
		if sc.door == "mixed" {
			for _, w := range mixedWidths {
				for _, name := range []string{small, wide, photo} {
					urls = append(urls, base+"/r/iron_thumbs/thumbs?"+thumbsQuery(name, w))
				}
			}
			if err := check(base+"/r/iron_thumbs/thumbs?"+thumbsQuery(small, 180), e.expected[small]); err != nil {
				return Stats{}, err
			}
		} else {
			urls = []string{base + "/r/iron_thumbs/thumbs?" + query}
			// Also the warm-up of a cached run: the first call makes the thumbnail.
			if err := check(urls[0], e.expected[sc.image]); err != nil {
				return Stats{}, err
			}
		}
		// A cold cached row's memory is its hits', not the warm-up's miss.
		pk.kb.Store(0)
		st, err := e.load(ctx, urls, sc.n, sc.c)
		if h := srv.Hot(); h != nil {
			e.started = append(e.started, h.Procs()...)
			pk.see(h.PeakRSSKB())
		}
		st.PeakRSSKB = pk.kb.Load()
		return st, err
	case "presigned":
		key := thumbs.Request{Filename: sc.image, Width: 180}.Key()
		u, err := s3store.New(e.s3.Client(), "thumbs").PresignGet(ctx, key, time.Hour)
		if err != nil {
			return Stats{}, err
		}
		if err := check(u, e.expected[sc.image]); err != nil {
			return Stats{}, fmt.Errorf("%w (the cached scenarios store it first)", err)
		}
		st, err := e.load(ctx, []string{u}, sc.n, sc.c)
		st.Note = "no function: the S3 server alone"
		return st, err
	case "local":
		return e.runLocal(ctx, sc)
	}
	return Stats{}, fmt.Errorf("unknown door %q", sc.door)
}

// runLocal starts `iron_thumbs serve -local` as its own process.
func (e *env) runLocal(ctx context.Context, sc scenario) (Stats, error) {
	dir, err := os.MkdirTemp(filepath.Dir(e.bin), "local-")
	if err != nil {
		return Stats{}, err
	}
	defer os.RemoveAll(dir)
	os.MkdirAll(filepath.Join(dir, "images"), 0o755)
	for name, data := range e.images {
		os.WriteFile(filepath.Join(dir, "images", name), data, 0o644)
	}
	addr, err := freeAddr()
	if err != nil {
		return Stats{}, err
	}
	cmd := exec.CommandContext(ctx, e.bin, "serve", "-addr", addr, "-local", dir)
	cacheSetting := "on"
	if !sc.cache {
		cacheSetting = "off"
	}
	// One transform per client: with the default bound (one per CPU) a
	// miss beyond it is answered 503 at once, which is not a measurement.
	clients := e.clients(sc)
	cmd.Env = []string{"THUMB_CACHE=" + cacheSetting, "THUMB_CONCURRENCY=" + strconv.Itoa(clients)}
	var log bytes.Buffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		return Stats{}, err
	}
	e.started = append(e.started, cmd.Process.Pid)
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	base := "http://" + addr
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 200 {
			return Stats{}, fmt.Errorf("local door did not start: %s", log.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
	u := base + "/r/iron_thumbs/thumbs?" + thumbsQuery(sc.image, 180)
	if err := check(u, e.expected[sc.image]); err != nil {
		return Stats{}, err
	}
	st, err := e.load(ctx, []string{u}, sc.n, sc.c)
	st.PeakRSSKB = ironrunner.PeakRSSKB(cmd.Process.Pid)
	st.Note = "local folder store, THUMB_CONCURRENCY=" + strconv.Itoa(clients)
	return st, err
}
