package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/iron-thumbs/iron_thumbs/internal/ironrunner"
	"github.com/iron-thumbs/iron_thumbs/s3store"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

// naiveThumbs is the naive function's thumbs bucket, apart from ours; it
// keeps a thumbnail under SIZE/FILENAME.
const naiveThumbs = "naive-thumbs"

// CPURow is one kind of cold call on the 400 px image, ours against the
// naive function.
type CPURow struct {
	Call string // "hit" or "miss"
	Runs int
	// Medians of user+system CPU and of wall time, ms.
	OursCPUMS, NaiveCPUMS float64
	OursMS, NaiveMS       float64
	// Median threads started by the process; 0 when not counted.
	OursThreads, NaiveThreads int
	ThreadRuns                int
	// The thumbnails' sizes.
	OursBytes, NaiveBytes int
}

// CPUResult is the cold-call comparison with the naive function.
type CPUResult struct {
	ThreadsNote string // why threads were not counted
	Rows        []CPURow
}

// Markdown renders the comparison under the machine line.
func (c *CPUResult) Markdown(machine string) string {
	var b strings.Builder
	b.WriteString("#### Cold CPU per call: ours against a naive function, 400 px image, through ironrunner\n\n")
	fmt.Fprintf(&b, "Machine: %s. Each call is a new process, as IronFunctions' default format runs it; CPU is the process's "+
		"user+system time from its rusage (this runner's children's usage read before and after each call, one call at a time). "+
		"Ours and the naive function are called in turn, medians. The naive function (bench/naive) is a first attempt: "+
		"aws-sdk-go-v2 with our S3 settings, image/png decode, imaging's Lanczos, image/png encode, built static and stripped as ours. "+
		"Threads are counted without sampling: the clone() calls that make a thread (`strace -f --seccomp-bpf -e trace=clone,clone3`, "+
		"so only those calls stop the process), plus the main thread.\n\n", machine)
	if c.ThreadsNote != "" {
		b.WriteString(c.ThreadsNote + "\n\n")
	}
	b.WriteString("| call | runs | ours CPU ms | naive CPU ms | ratio | ours wall ms | naive wall ms | ratio | ours threads | naive threads | our bytes | naive bytes |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range c.Rows {
		fmt.Fprintf(&b, "| cold %s, 400 px | %d | %.1f | %.1f | %s | %.1f | %.1f | %s | %s | %s | %d | %d |\n", r.Call, r.Runs,
			r.OursCPUMS, r.NaiveCPUMS, ratio(r.OursCPUMS, r.NaiveCPUMS), r.OursMS, r.NaiveMS, ratio(r.OursMS, r.NaiveMS),
			count(r.OursThreads), count(r.NaiveThreads), r.OursBytes, r.NaiveBytes)
	}
	return b.String()
}

// childrenCPU is the user+system CPU of this process's children that have
// been waited for. Read before and after one cold call, with no other
// child exiting meanwhile, its difference is that call's process's own
// rusage (the runner waits for it; GNU time is not wrapped around it).
func childrenCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// coldFn is one of the two functions compared.
type coldFn struct {
	name   string
	route  *ironrunner.Route
	bucket *s3store.Bucket
	key    string
	// logged says the call was the hit or miss asked for.
	logged func(outcome string) string
}

func (f coldFn) call(ctx context.Context, outcome string) (cpu, wall time.Duration, body []byte, err error) {
	if outcome == "miss" {
		if err := f.bucket.Delete(ctx, f.key); err != nil {
			return 0, 0, nil, err
		}
	}
	before := childrenCPU()
	t0 := time.Now()
	res := f.route.RunCold(ctx, ironrunner.Call{URL: "/r/iron_thumbs/thumbs?" + thumbsQuery(small, 180)})
	wall = time.Since(t0)
	cpu = childrenCPU() - before
	if err := checkCold(res, f.logged(outcome)); err != nil {
		return 0, 0, nil, fmt.Errorf("%s, %s: %w", f.name, outcome, err)
	}
	return cpu, wall, res.Body, nil
}

// checkCold checks a cold call answered a 180 px wide PNG, and logged want.
func checkCold(res ironrunner.Result, want string) error {
	cfg, err := png.DecodeConfig(bytes.NewReader(res.Body))
	if res.Status != 200 || err != nil || cfg.Width != 180 {
		return fmt.Errorf("status %d, exit %d, %d bytes (%v): %s", res.Status, res.ExitCode, len(res.Body), err, res.Stderr)
	}
	if !strings.Contains(res.Stderr, want) {
		return fmt.Errorf("the log lacks %q: %s", want, res.Stderr)
	}
	return nil
}

// middle is the median of v (the upper one of an even count), or zero.
func middle[T cmp.Ordered](v []T) T {
	var zero T
	if len(v) == 0 {
		return zero
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// cpu compares the CPU of a cold hit and a cold miss, ours against the
// naive function, interleaved: each run calls both, in alternating order.
func (e *env) cpu(ctx context.Context) (*CPUResult, error) {
	runs, threadRuns := 9, 3
	if e.o.Quick {
		runs, threadRuns = 1, 1
	}
	ours := e.route("default", true)
	ours.MeasureRSS = false // no GNU time in between: the rusage is the function's own
	naive := e.route("default", true)
	naive.MeasureRSS = false
	naive.Binary = e.naive
	naive.Config = map[string]string{"THUMB_BUCKET": naiveThumbs}
	fns := []coldFn{
		{"ours", ours, s3store.New(e.s3.Client(), "thumbs"), thumbs.Request{Filename: small, Width: 180}.Key(),
			func(o string) string { return "outcome=" + o }},
		{"naive", naive, s3store.New(e.s3.Client(), naiveThumbs), "180/" + small,
			func(o string) string { return "naive: " + o }},
	}
	outcomes := []string{"miss", "hit"}
	type series struct{ cpu, wall []time.Duration }
	got := map[string]*series{}
	bytesOf := map[string]int{}
	// One untimed call each first: the binaries into the page cache.
	for _, f := range fns {
		if _, _, _, err := f.call(ctx, "miss"); err != nil {
			return nil, err
		}
	}
	for i := range runs {
		order := slices.Clone(fns)
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, outcome := range outcomes {
			for _, f := range order {
				cpu, wall, body, err := f.call(ctx, outcome)
				if err != nil {
					return nil, err
				}
				k := f.name + " " + outcome
				if got[k] == nil {
					got[k] = &series{}
				}
				got[k].cpu, got[k].wall = append(got[k].cpu, cpu), append(got[k].wall, wall)
				bytesOf[f.name] = len(body)
			}
		}
	}
	threads, note := e.countThreads(ctx, fns, outcomes, threadRuns)
	res := &CPUResult{ThreadsNote: note}
	for _, outcome := range outcomes {
		o, n := got["ours "+outcome], got["naive "+outcome]
		res.Rows = append(res.Rows, CPURow{
			Call: outcome, Runs: runs,
			OursCPUMS: median(o.cpu), NaiveCPUMS: median(n.cpu),
			OursMS: median(o.wall), NaiveMS: median(n.wall),
			OursThreads: middle(threads["ours "+outcome]), NaiveThreads: middle(threads["naive "+outcome]),
			ThreadRuns: threadRuns,
			OursBytes:  bytesOf["ours"], NaiveBytes: bytesOf["naive"],
		})
	}
	return res, nil
}

// countThreads runs each call under strace, counting the threads it
// makes. Go never ends a thread it started (unless a goroutine exits
// while locked to it, which neither function does), so this is also the
// most the process ran at once.
func (e *env) countThreads(ctx context.Context, fns []coldFn, outcomes []string, runs int) (map[string][]int, string) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		return nil, "Threads not counted: strace is not installed (Debian strace)."
	}
	out := map[string][]int{}
	for range runs {
		for _, outcome := range outcomes {
			for _, f := range fns {
				n, err := f.threads(ctx, strace, outcome)
				if err != nil {
					return nil, fmt.Sprintf("Threads not counted: %v.", err)
				}
				out[f.name+" "+outcome] = append(out[f.name+" "+outcome], n)
			}
		}
	}
	return out, ""
}

func (f coldFn) threads(ctx context.Context, strace, outcome string) (int, error) {
	log, err := os.CreateTemp("", "bench-strace")
	if err != nil {
		return 0, err
	}
	log.Close()
	defer os.Remove(log.Name())
	traced := *f.route
	traced.Binary = strace
	traced.Args = append([]string{"-f", "-qq", "--seccomp-bpf", "-e", "trace=clone,clone3", "-e", "signal=none",
		"-o", log.Name(), f.route.Binary}, f.route.Args...)
	f.route = &traced
	if _, _, _, err := f.call(ctx, outcome); err != nil {
		return 0, err
	}
	b, err := os.ReadFile(log.Name())
	if err != nil {
		return 0, err
	}
	n := 1 // the main thread
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(line, "CLONE_THREAD") && !strings.Contains(line, "= -1 ") {
			n++
		}
	}
	return n, nil
}
