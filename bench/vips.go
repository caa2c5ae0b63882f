package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iron-thumbs/iron_thumbs/internal/ironrunner"
	"github.com/iron-thumbs/iron_thumbs/s3store"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

// VipsRow compares vipsthumbnail with our resize command on one file,
// whole process, runs alternating.
type VipsRow struct {
	Image               string
	Runs                int
	VipsMS, OursMS      float64 // medians
	VipsRSSKB, OursRSSK int64   // largest peak RSS
	// ColdMS and ColdRSSKB are a whole cold call, cache miss, through the
	// IronFunctions runner: S3 GET of the original, thumbnail, S3 PUT.
	ColdMS    float64
	ColdRSSKB int64
}

// VipsResult is the libvips comparison.
type VipsResult struct {
	Note string
	Rows []VipsRow
}

// Markdown renders the comparison under the machine line.
func (v *VipsResult) Markdown(machine string) string {
	var b strings.Builder
	b.WriteString("#### Against libvips: `vipsthumbnail SRC -s 180x` and `iron_thumbs resize -w 180 SRC`, whole process, local file\n\n")
	fmt.Fprintf(&b, "Machine: %s.\n\n", machine)
	if v.Note != "" {
		b.WriteString(v.Note + "\n")
		return b.String()
	}
	b.WriteString("| image | runs | vipsthumbnail median ms | `resize` median ms | ratio | cold call, miss, S3 GET+PUT, median ms | ratio | vips peak RSS | `resize` peak RSS | cold call peak RSS | ratio |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range v.Rows {
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.1f | %.2f× | %.1f | %.2f× | %s | %s | %s | %.2f× |\n", r.Image, r.Runs,
			r.VipsMS, r.OursMS, r.OursMS/r.VipsMS, r.ColdMS, r.ColdMS/r.VipsMS,
			kb(r.VipsRSSKB), kb(r.OursRSSK), kb(r.ColdRSSKB), float64(r.ColdRSSKB)/float64(max(r.VipsRSSKB, 1)))
	}
	return b.String()
}

// timeProcess runs a command under GNU time and returns its wall time and
// peak RSS (KiB). GNU time forks, so the figure is the command's own; a
// child started straight from this process would carry our high-water mark.
func timeProcess(ctx context.Context, name string, args ...string) (time.Duration, int64, error) {
	f, err := os.CreateTemp("", "bench-rss")
	if err != nil {
		return 0, 0, err
	}
	f.Close()
	defer os.Remove(f.Name())
	cmd := exec.CommandContext(ctx, "/usr/bin/time", append([]string{"-f", "%M", "-o", f.Name(), name}, args...)...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %v: %s", name, err, out)
	}
	b, _ := os.ReadFile(f.Name())
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return d, 0, fmt.Errorf("no peak RSS from GNU time for %s", name)
	}
	rss, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
	return d, rss, err
}

func median(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[len(s)/2].Microseconds()) / 1000
}

func (e *env) vips(ctx context.Context, imgDir string) (*VipsResult, error) {
	if _, err := exec.LookPath("vipsthumbnail"); err != nil {
		return &VipsResult{Note: "vipsthumbnail is not installed (Debian: apt-get install libvips-tools); comparison skipped."}, nil
	}
	out, err := os.MkdirTemp("", "iron_thumbs-vips")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	res := &VipsResult{}
	route := e.route("default", true)
	thumbsBucket := s3store.New(e.s3.Client(), "thumbs")
	for _, name := range []string{small, wide, photo} {
		src := filepath.Join(imgDir, name)
		runs := 7
		if name == photo {
			runs = 5
		}
		row := VipsRow{Image: name, Runs: runs}
		var vt, ot, ct []time.Duration
		call := ironrunner.Call{URL: "/r/iron_thumbs/thumbs?" + thumbsQuery(name, 180)}
		for range runs {
			// A cold call that misses: the thumbnail is deleted first.
			if err := thumbsBucket.Delete(ctx, thumbs.Request{Filename: name, Width: 180}.Key()); err != nil {
				return nil, err
			}
			t0 := time.Now()
			cres := route.RunCold(ctx, call)
			d := time.Since(t0)
			if cres.ExitCode != 0 || !strings.Contains(cres.Stderr, "outcome=miss") {
				return nil, fmt.Errorf("cold call on %s: exit %d: %s", name, cres.ExitCode, cres.Stderr)
			}
			ct, row.ColdRSSKB = append(ct, d), max(row.ColdRSSKB, cres.MaxRSSKB)
			d, rss, err := timeProcess(ctx, "vipsthumbnail", src, "-s", "180x", "-o", filepath.Join(out, "vips.png"))
			if err != nil {
				return nil, err
			}
			vt, row.VipsRSSKB = append(vt, d), max(row.VipsRSSKB, rss)
			d, rss, err = timeProcess(ctx, e.bin, "resize", "-w", "180", "-o", filepath.Join(out, "ours.png"), src)
			if err != nil {
				return nil, err
			}
			ot, row.OursRSSK = append(ot, d), max(row.OursRSSK, rss)
		}
		row.VipsMS, row.OursMS, row.ColdMS = median(vt), median(ot), median(ct)
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}
