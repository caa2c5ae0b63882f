// Command bench is the ApacheBench experiment of the 2017 write-up in one
// command (`make bench`): it builds the function, starts a Versity S3
// Gateway on loopback with the bench images, serves /r/iron_thumbs/thumbs
// through the IronFunctions-faithful runner, cold and hot, and loads it
// with ab, then writes a table and a chart to bench/work/results/ (git
// ignored; -results bench/results publishes them on purpose).
//
// Every request goes to 127.0.0.1, and every process it starts is stopped
// at the end, also on Ctrl-C.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
)

// Options configure a run.
type Options struct {
	Work           string // scratch folder: images, S3 data, binary
	Results        string // where the table and chart go; "" writes none
	Bin            string // the function binary; built when empty
	Quick          bool   // a smoke run: a few requests per scenario
	MaxConcurrency int    // hot processes, as the route's max_concurrency
	Concurrency    int    // ab -c
	Only           string // run only scenarios whose name contains this
	Log            io.Writer
}

func main() {
	var o Options
	flag.StringVar(&o.Work, "work", "bench/work", "scratch `folder` (images, S3 data)")
	flag.StringVar(&o.Results, "results", "bench/work/results", "`folder` for the table and chart (bench/results is tracked: publish there on purpose)")
	flag.StringVar(&o.Bin, "bin", "", "function `binary` (default: build it)")
	flag.BoolVar(&o.Quick, "quick", false, "smoke run: a few requests per scenario")
	flag.IntVar(&o.MaxConcurrency, "max-concurrency", runtime.NumCPU(), "hot processes (the route's max_concurrency)")
	flag.IntVar(&o.Concurrency, "c", 10, "concurrent clients (ab -c)")
	flag.StringVar(&o.Only, "only", "", "run only the scenarios whose name contains `TEXT`; \"libvips\" runs only the libvips table, \"naive\" only the cold-CPU comparison")
	printMachine := flag.Bool("machine", false, "print the machine line that heads every table, and exit")
	flag.Parse()
	if *printMachine {
		fmt.Println(machine())
		return
	}
	o.Log = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, o)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(rep.Markdown())
	if o.Results != "" {
		fmt.Printf("\nWritten: %s, and the chart %s\n", filepath.Join(o.Results, "latest.md"), filepath.Join(o.Results, "latest.png"))
	}
}

// A source is a bench image and how to make it.
type source struct {
	name string
	// draw makes the file; dir holds the sources drawn before it.
	draw func(dir string) ([]byte, error)
}

// errNoVips skips a source that needs libvips to be made.
var errNoVips = errors.New("needs the vips command (Debian libvips-tools)")

// benchSources are the bench images: the 2017 illustration, a
// screenshot-like and a photo-like PNG, as hard to compress as a real
// photograph, and the same kind of photo as a camera would write it: JPEG
// at quality 90, 4:2:0, baseline and progressive, 12 and 48 MP. A quick
// run draws smaller ones under the same names.
func benchSources(quick bool) []source {
	sw, sh, pw, ph, bw, bh := 1920, 1080, 4000, 3000, 8000, 6000
	if quick {
		sw, sh, pw, ph, bw, bh = 640, 360, 800, 600, 1600, 1200
	}
	return []source{
		{small, func(string) ([]byte, error) { return testimages.EncodePNG(testimages.Illustration(400, 400)), nil }},
		{wide, func(string) ([]byte, error) { return testimages.EncodePNG(testimages.Screenshot(sw, sh)), nil }},
		{photo, func(string) ([]byte, error) { return testimages.EncodePNG(testimages.Photo(pw, ph, 1)), nil }},
		{jpeg12, func(string) ([]byte, error) { return cameraJPEG(testimages.Photo(pw, ph, 1)) }},
		{jpeg12p, func(dir string) ([]byte, error) { return progressive(filepath.Join(dir, jpeg12)) }},
		{jpeg48, func(string) ([]byte, error) { return cameraJPEG(testimages.Photo(bw, bh, 1)) }},
	}
}

// cameraJPEG encodes img as a camera would: quality 90, which image/jpeg
// writes as baseline 4:2:0.
func cameraJPEG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
	return b.Bytes(), err
}

// progressive re-encodes a JPEG as progressive with libvips, keeping its
// quality and its 4:2:0 chroma: `vips copy SRC 'DST[interlace]'` alone
// would write quality 75.
func progressive(src string) ([]byte, error) {
	if _, err := exec.LookPath("vips"); err != nil {
		return nil, errNoVips
	}
	dst := src + ".progressive.tmp.jpg"
	defer os.Remove(dst)
	if out, err := exec.Command("vips", "copy", src, dst+"[interlace,Q=90,subsample-mode=on]").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("vips copy: %v: %s", err, out)
	}
	return os.ReadFile(dst)
}

// ensureImages writes the bench images into dir once (the large ones take
// seconds to draw and encode) and returns them, with a note for each
// source it had to skip.
func ensureImages(dir string, quick bool) (map[string][]byte, []string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	out := map[string][]byte{}
	var notes []string
	for _, src := range benchSources(quick) {
		p := filepath.Join(dir, src.name)
		b, err := os.ReadFile(p)
		if err != nil {
			b, err = src.draw(dir)
			if errors.Is(err, errNoVips) {
				notes = append(notes, fmt.Sprintf("%s skipped: making it %v.", src.name, err))
				continue
			}
			if err != nil {
				return nil, nil, fmt.Errorf("drawing %s: %w", src.name, err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				return nil, nil, err
			}
		}
		out[src.name] = b
	}
	return out, notes, nil
}

// build compiles the function with the Makefile's static build, the one
// place its flags are written.
func build(work string) (string, error) {
	bin, err := filepath.Abs(filepath.Join(work, "iron_thumbs"))
	if err != nil {
		return "", err
	}
	if out, err := exec.Command("make", "-s", "build", "BIN="+bin).CombinedOutput(); err != nil {
		return "", fmt.Errorf("make build: %v\n%s", err, out)
	}
	return bin, nil
}

// buildNaive compiles bench/naive, the first-attempt function, statically
// and stripped like ours (without our version stamp).
func buildNaive(work string) (string, error) {
	bin, err := filepath.Abs(filepath.Join(work, "naive"))
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", bin, "./bench/naive")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building bench/naive: %v\n%s", err, out)
	}
	return bin, nil
}

// serveHTTP serves h on a free loopback port until the returned stop.
func serveHTTP(h http.Handler) (base string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func thumbsQuery(name string, size int) string {
	return "filename=" + url.QueryEscape(name) + "&size=" + strconv.Itoa(size)
}

// machine describes where the run happened.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%d cores (%s), %s, %s/%s, %s", runtime.NumCPU(), cpu, runtime.Version(),
		runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format("2006-01-02"))
}

// startedProcs are the pids this run started, checked at the end.
type procs []int

func (p procs) alive() []int {
	var out []int
	for _, pid := range p {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// A zombie (state Z) has exited.
		if f := strings.Fields(string(b)); len(f) > 2 && f[2] != "Z" {
			out = append(out, pid)
		}
	}
	return out
}
