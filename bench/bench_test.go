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
// process left running. It asserts no timing.
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
		if row.Note == "" && row.PeakRSSKB == 0 {
			t.Errorf("%s: no peak RSS measured", row.Scenario)
		}
	}
	md, err := os.ReadFile(filepath.Join(work, "results", "latest.md"))
	if err != nil || !strings.Contains(string(md), "hot, always make, 400 px") || !strings.Contains(string(md), "7542.938") {
		t.Errorf("latest.md: %v\n%s", err, md)
	}
	if fi, err := os.Stat(filepath.Join(work, "results", "latest.png")); err != nil || fi.Size() == 0 {
		t.Errorf("latest.png: %v", err)
	}
	out, _ := exec.Command("pgrep", "-f", work).Output()
	if len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("processes of the run still alive: %s", out)
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
