package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs every scenario of the harness with a few requests, so it
// cannot rot: no failed or non-2xx answer, the right thumbnail bytes (each
// scenario checks one answer against the expected thumbnail), and no
// process left running; then the libvips table (one run each, libvips'
// columns empty where it is not installed) and the cold calls against the
// naive function, built and called. It asserts no timing.
func TestSmoke(t *testing.T) {
	work := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The tests run in bench/; the function is the module's root package.
	wd, _ := os.Getwd()
	os.Chdir("..")
	defer os.Chdir(wd)
	rep, err := Run(ctx, Options{Work: work, Results: filepath.Join(work, "results"), Quick: true,
		MaxConcurrency: 2, Concurrency: 2, Bin: os.Getenv("IRON_THUMBS_BIN")})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(scenarios(true)); len(rep.Rows) != want {
		t.Fatalf("%d scenarios ran, want %d", len(rep.Rows), want)
	}
	for _, row := range rep.Rows {
		if row.Requests != 4 || row.Failed != 0 || row.Non2xx != 0 {
			t.Errorf("%s: %d requests, %d failed, %d non-2xx", row.Scenario, row.Requests, row.Failed, row.Non2xx)
		}
		if !strings.HasPrefix(row.Note, "no function") && row.PeakRSSKB == 0 {
			t.Errorf("%s: no peak RSS measured", row.Scenario)
		}
		if !strings.Contains(row.Scenario, "mixed") && row.Bytes == 0 {
			t.Errorf("%s: no thumbnail size", row.Scenario)
		}
	}
	_, vips := exec.LookPath("vipsthumbnail")
	if rep.Vips == nil || len(rep.Vips.Rows) != len(vipsSources)-len(rep.Notes) {
		t.Errorf("libvips table: %+v, notes %q", rep.Vips, rep.Notes)
	} else {
		for _, r := range rep.Vips.Rows {
			if r.OursMS <= 0 || r.ColdMS <= 0 || r.OursRSSKB == 0 || r.ColdRSSKB == 0 || r.OursBytes == 0 {
				t.Errorf("libvips table, ours: %+v", r)
			}
			if vips == nil && (r.VipsMS <= 0 || r.VipsBytes == 0 || (strings.HasSuffix(r.Image, ".png") != (r.PngsaveBytes > 0))) {
				t.Errorf("libvips table, libvips: %+v", r)
			}
		}
	}
	if rep.CPU == nil || len(rep.CPU.Rows) != 2 {
		t.Errorf("CPU table: %+v", rep.CPU)
	} else {
		_, strace := exec.LookPath("strace")
		for _, r := range rep.CPU.Rows {
			if r.OursCPUMS <= 0 || r.NaiveCPUMS <= 0 || r.OursBytes == 0 || r.NaiveBytes == 0 {
				t.Errorf("CPU table: %+v", r)
			}
			if strace == nil && (r.OursThreads < 2 || r.NaiveThreads < 2) {
				t.Errorf("CPU table, threads: %+v (%s)", r, rep.CPU.ThreadsNote)
			}
		}
	}
	md, err := os.ReadFile(filepath.Join(work, "results", "latest.md"))
	for _, want := range []string{"hot, always make, 400 px", "7542.938", "cold, always make, 4000×3000 JPEG",
		"every call makes its thumbnail; nothing is shared", "vips pngsave bytes", "naive CPU ms"} {
		if err != nil || !strings.Contains(string(md), want) {
			t.Errorf("latest.md lacks %q: %v\n%s", want, err, md)
		}
	}
	if n := strings.Count(string(md), "Machine: "+rep.Machine); n != 3 {
		t.Errorf("latest.md: the machine line heads %d tables, want 3", n)
	}
	if fi, err := os.Stat(filepath.Join(work, "results", "latest.png")); err != nil || fi.Size() == 0 {
		t.Errorf("latest.png: %v", err)
	}
	out, _ := exec.Command("pgrep", "-f", work).Output()
	if len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("processes of the run still alive: %s", out)
	}
}

// TestNoLibvips draws the quick sources without libvips: the progressive
// JPEG is skipped with a note, and the libvips columns are left empty.
func TestNoLibvips(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	images, notes, err := ensureImages(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := images[jpeg12p]; ok || len(images) != len(benchSources(true))-1 || len(notes) != 1 || !strings.Contains(notes[0], "libvips-tools") {
		t.Errorf("%d images, notes %q", len(images), notes)
	}
	md := (&VipsResult{Rows: []VipsRow{{Image: jpeg12, Runs: 1, OursMS: 5, ColdMS: 6, OursRSSKB: 1024, ColdRSSKB: 2048, OursBytes: 99}}}).Markdown("m")
	if !strings.Contains(md, "libvips not installed") || !strings.Contains(md, "| photo_4000x3000.jpg | 1 | – | 5.0 | – | 6.0 | – | – | 1.0 MB | – | 2.0 MB | – | – | 99 | – |") {
		t.Errorf("markdown without libvips:\n%s", md)
	}
}

// TestChildrenCPU checks that the difference of childrenCPU around one
// child is that child's own rusage, within the kernel's rounding (the two
// are scaled from the scheduler's runtime separately: about 0.1 ms apart).
func TestChildrenCPU(t *testing.T) {
	before := childrenCPU()
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	got, want := childrenCPU()-before, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime()
	if want <= 0 || (got-want).Abs() > time.Millisecond {
		t.Errorf("childrenCPU grew by %v, the child's rusage says %v", got, want)
	}
}

func TestParseAB(t *testing.T) {
	if !haveAB() {
		t.Fatal("ab (Debian apache2-utils) is not installed: run `make tools`")
	}
	// A real ab run against a tiny loopback server.
	base, stop, err := serveHTTP(okHandler{})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	st, err := runAB(context.Background(), base+"/", 50, 5)
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != 50 || st.Failed != 0 || st.Non2xx != 0 || st.RPS <= 0 || st.MeanMS <= 0 || st.P99MS < st.P50MS {
		t.Errorf("parsed %+v", st)
	}
	st, err = runAB(context.Background(), base+"/missing", 10, 2)
	if err != nil || st.Non2xx != 10 {
		t.Errorf("non-2xx: %+v, %v", st, err)
	}
}
