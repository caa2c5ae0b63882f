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
	"context"
	"flag"
	"fmt"
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
	flag.StringVar(&o.Only, "only", "", "run only the scenarios whose name contains `TEXT`")
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

// benchImages draws the bench sources: the 2017 illustration, a
// screenshot-like and a photo-like PNG, as hard to compress as a real
// photograph. A quick run draws smaller ones under the same names.
func benchImages(quick bool) map[string]func() []byte {
	sw, sh, pw, ph := 1920, 1080, 4000, 3000
	if quick {
		sw, sh, pw, ph = 640, 360, 800, 600
	}
	return map[string]func() []byte{
		small: func() []byte { return testimages.EncodePNG(testimages.Illustration(400, 400)) },
		wide:  func() []byte { return testimages.EncodePNG(testimages.Screenshot(sw, sh)) },
		photo: func() []byte { return testimages.EncodePNG(testimages.Photo(pw, ph, 1)) },
	}
}

// ensureImages writes the bench images into dir once; the 12 MP photo
// takes seconds to draw and encode.
func ensureImages(dir string, quick bool) (map[string][]byte, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for name, draw := range benchImages(quick) {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			b = draw()
			if err := os.WriteFile(p, b, 0o644); err != nil {
				return nil, err
			}
		}
		out[name] = b
	}
	return out, nil
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
