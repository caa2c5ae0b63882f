package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Stats are a load run's figures, as ApacheBench reports them.
type Stats struct {
	Requests   int
	Failed     int // connection errors, or a body length unlike the first
	Non2xx     int
	RPS        float64
	MeanMS     float64 // mean time per request, one client's view
	P50MS      float64
	P99MS      float64
	Tool       string // "ab" or "load"
	PeakRSSKB  int64  // of the function's processes
	Note       string
	ElapsedSec float64
}

// haveAB reports whether ApacheBench is installed.
func haveAB() bool {
	_, err := exec.LookPath("ab")
	return err == nil
}

// runAB runs `ab -n N -c C URL` and reads its report.
func runAB(ctx context.Context, url string, n, c int) (Stats, error) {
	cmd := exec.CommandContext(ctx, "ab", "-q", "-n", strconv.Itoa(n), "-c", strconv.Itoa(c), "-s", "60", url)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return Stats{}, fmt.Errorf("ab: %v: %s", err, errOut.String())
	}
	return parseAB(out.String())
}

var abLines = map[string]*regexp.Regexp{
	"complete": regexp.MustCompile(`(?m)^Complete requests:\s+(\d+)`),
	"failed":   regexp.MustCompile(`(?m)^Failed requests:\s+(\d+)`),
	"non2xx":   regexp.MustCompile(`(?m)^Non-2xx responses:\s+(\d+)`),
	"rps":      regexp.MustCompile(`(?m)^Requests per second:\s+([\d.]+)`),
	"mean":     regexp.MustCompile(`(?m)^Time per request:\s+([\d.]+) \[ms\] \(mean\)$`),
	"p50":      regexp.MustCompile(`(?m)^\s+50%\s+(\d+)`),
	"p99":      regexp.MustCompile(`(?m)^\s+99%\s+(\d+)`),
	"elapsed":  regexp.MustCompile(`(?m)^Time taken for tests:\s+([\d.]+) seconds`),
}

// parseAB reads the figures of an ApacheBench report.
func parseAB(out string) (Stats, error) {
	num := func(key string, required bool) (float64, error) {
		m := abLines[key].FindStringSubmatch(out)
		if m == nil {
			if required {
				return 0, fmt.Errorf("ab report lacks %q:\n%s", key, out)
			}
			return 0, nil
		}
		return strconv.ParseFloat(m[1], 64)
	}
	s := Stats{Tool: "ab"}
	var err error
	var v float64
	for _, f := range []struct {
		key      string
		required bool
		set      func(float64)
	}{
		{"complete", true, func(v float64) { s.Requests = int(v) }},
		{"failed", true, func(v float64) { s.Failed = int(v) }},
		{"non2xx", false, func(v float64) { s.Non2xx = int(v) }},
		{"rps", true, func(v float64) { s.RPS = v }},
		{"mean", true, func(v float64) { s.MeanMS = v }},
		{"p50", true, func(v float64) { s.P50MS = v }},
		{"p99", true, func(v float64) { s.P99MS = v }},
		{"elapsed", true, func(v float64) { s.ElapsedSec = v }},
	} {
		if v, err = num(f.key, f.required); err != nil {
			return s, err
		}
		f.set(v)
	}
	return s, nil
}

// runLoad is our own load generator, reporting what ab does: c workers
// send n GETs in all, cycling through urls.
func runLoad(ctx context.Context, urls []string, n, c int) Stats {
	client := &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: c, DisableCompression: true},
	}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		failed    int
		non2xx    int
		lengths   = map[string]int{}
		next      int
	)
	start := time.Now()
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for {
				mu.Lock()
				if next >= n || ctx.Err() != nil {
					mu.Unlock()
					return
				}
				url := urls[next%len(urls)]
				next++
				mu.Unlock()
				t0 := time.Now()
				resp, err := client.Get(url)
				var size int64
				if err == nil {
					size, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				d := time.Since(t0)
				mu.Lock()
				latencies = append(latencies, d)
				switch {
				case err != nil:
					failed++
				case resp.StatusCode < 200 || resp.StatusCode > 299:
					non2xx++
				default:
					// As ab does: a body length unlike the first for the same URL is a failure.
					if first, ok := lengths[url]; !ok {
						lengths[url] = int(size)
					} else if first != int(size) {
						failed++
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(latencies)
	s := Stats{Requests: len(latencies), Failed: failed, Non2xx: non2xx, Tool: "load", ElapsedSec: elapsed.Seconds()}
	if len(latencies) > 0 {
		var sum time.Duration
		for _, d := range latencies {
			sum += d
		}
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		s.MeanMS = ms(sum) / float64(len(latencies))
		s.P50MS = ms(latencies[len(latencies)*50/100])
		s.P99MS = ms(latencies[min(len(latencies)-1, len(latencies)*99/100)])
		s.RPS = float64(len(latencies)) / elapsed.Seconds()
	}
	return s
}

// okHandler answers "ok", and 404 for /missing (harness tests).
type okHandler struct{}

func (okHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/missing" {
		http.NotFound(w, r)
		return
	}
	io.WriteString(w, "ok")
}
