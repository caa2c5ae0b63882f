package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	Image string
	Runs  int
	// Medians; VipsMS is 0 without libvips.
	VipsMS, OursMS float64
	// ColdMS and ColdRSSKB are a whole cold call, cache miss, through the
	// IronFunctions runner: S3 GET of the original, thumbnail, S3 PUT.
	ColdMS float64
	// Largest peak RSS of the runs, KiB.
	VipsRSSKB, OursRSSKB, ColdRSSKB int64
	// Sizes of the thumbnails: vipsthumbnail's, ours, and (PNG only) our
	// pixels written by `vips pngsave` at its tightest; 0 when not made.
	VipsBytes, OursBytes, PngsaveBytes int
}

// VipsResult is the libvips comparison.
type VipsResult struct {
	Libvips string // "vips-8.14.1"; "" when libvips is not installed
	Notes   []string
	Rows    []VipsRow
}

// ourJPEGQuality is the function's default JPEG_QUALITY, which
// vipsthumbnail is given too, so the JPEG thumbnails' bytes compare.
const ourJPEGQuality = 85

// pngsaveArgs write a PNG as small as libvips can: zlib level 9, every
// row filter tried (libvips 8.14: `vips pngsave` usage).
var pngsaveArgs = []string{"--compression", "9", "--filter", "all"}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func ms(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", v)
}

func count(n int) string {
	if n == 0 {
		return "–"
	}
	return strconv.Itoa(n)
}

// Markdown renders the comparison under the machine line.
func (v *VipsResult) Markdown(machine string) string {
	var b strings.Builder
	b.WriteString("#### Against libvips: `vipsthumbnail SRC -s 180x` and `iron_thumbs resize -w 180 SRC`, whole process, local file\n\n")
	lib := v.Libvips
	if lib == "" {
		lib = "libvips not installed (Debian libvips-tools): its columns are empty"
	}
	fmt.Fprintf(&b, "Machine: %s; %s. Ratios are against vipsthumbnail. \"Cold call\" is a whole IronFunctions cold call that misses: "+
		"S3 GET of the original, thumbnail, S3 PUT. Thumbnails are PNG from PNG and JPEG at quality %d from JPEG, from both tools; "+
		"\"vips pngsave bytes\" is our thumbnail's pixels written by `vips pngsave IN OUT %s`.\n\n",
		machine, lib, ourJPEGQuality, strings.Join(pngsaveArgs, " "))
	for _, n := range v.Notes {
		b.WriteString(n + "\n\n")
	}
	b.WriteString("| image | runs | vipsthumbnail median ms | `resize` median ms | ratio | cold call median ms | ratio " +
		"| vipsthumbnail peak RSS | `resize` peak RSS | ratio | cold call peak RSS | ratio " +
		"| vipsthumbnail bytes | our bytes | vips pngsave bytes |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range v.Rows {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Image, r.Runs,
			ms(r.VipsMS), ms(r.OursMS), ratio(r.OursMS, r.VipsMS), ms(r.ColdMS), ratio(r.ColdMS, r.VipsMS),
			kb(r.VipsRSSKB), kb(r.OursRSSKB), ratio(float64(r.OursRSSKB), float64(r.VipsRSSKB)),
			kb(r.ColdRSSKB), ratio(float64(r.ColdRSSKB), float64(r.VipsRSSKB)),
			count(r.VipsBytes), count(r.OursBytes), count(r.PngsaveBytes))
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

// median is the median of ds in milliseconds.
func median(ds []time.Duration) float64 {
	return float64(middle(ds).Microseconds()) / 1000
}

func fileSize(path string) int {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return int(fi.Size())
}

// vipsSources are the images compared, with their runs in a full bench.
var vipsSources = []struct {
	name string
	runs int
}{{small, 7}, {wide, 7}, {photo, 5}, {jpeg12, 5}, {jpeg12p, 5}, {jpeg48, 3}}

func (e *env) vips(ctx context.Context, imgDir string) (*VipsResult, error) {
	res := &VipsResult{}
	if _, err := exec.LookPath("vipsthumbnail"); err == nil {
		if out, err := exec.CommandContext(ctx, "vips", "--version").Output(); err == nil {
			res.Libvips = strings.TrimSpace(string(out))
		} else {
			res.Libvips = "libvips (version unknown)"
		}
	}
	out, err := os.MkdirTemp("", "iron_thumbs-vips")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	route := e.route("default", true)
	thumbsBucket := s3store.New(e.s3.Client(), "thumbs")
	for _, s := range vipsSources {
		if _, ok := e.images[s.name]; !ok {
			res.Notes = append(res.Notes, s.name+": not drawn (see the notes above), no row.")
			continue
		}
		src := filepath.Join(imgDir, s.name)
		runs := s.runs
		if e.o.Quick {
			runs = 1
		}
		row := VipsRow{Image: s.name, Runs: runs}
		ext := filepath.Ext(s.name)
		vipsOut, oursOut := filepath.Join(out, "vips"+ext), filepath.Join(out, "ours"+ext)
		vipsArg := vipsOut
		if ext == ".jpg" {
			vipsArg += "[Q=" + strconv.Itoa(ourJPEGQuality) + "]"
		}
		var vt, ot, ct []time.Duration
		call := ironrunner.Call{URL: "/r/iron_thumbs/thumbs?" + thumbsQuery(s.name, 180)}
		for range runs {
			// A cold call that misses: the thumbnail is deleted first.
			if err := thumbsBucket.Delete(ctx, thumbs.Request{Filename: s.name, Width: 180}.Key()); err != nil {
				return nil, err
			}
			t0 := time.Now()
			cres := route.RunCold(ctx, call)
			d := time.Since(t0)
			if cres.ExitCode != 0 || !strings.Contains(cres.Stderr, "outcome=miss") {
				return nil, fmt.Errorf("cold call on %s: exit %d: %s", s.name, cres.ExitCode, cres.Stderr)
			}
			ct, row.ColdRSSKB = append(ct, d), max(row.ColdRSSKB, cres.MaxRSSKB)
			if res.Libvips != "" {
				d, rss, err := timeProcess(ctx, "vipsthumbnail", src, "-s", "180x", "-o", vipsArg)
				if err != nil {
					return nil, err
				}
				vt, row.VipsRSSKB = append(vt, d), max(row.VipsRSSKB, rss)
			}
			d, rss, err := timeProcess(ctx, e.bin, "resize", "-w", "180", "-o", oursOut, src)
			if err != nil {
				return nil, err
			}
			ot, row.OursRSSKB = append(ot, d), max(row.OursRSSKB, rss)
		}
		row.VipsMS, row.OursMS, row.ColdMS = median(vt), median(ot), median(ct)
		row.VipsBytes, row.OursBytes = fileSize(vipsOut), fileSize(oursOut)
		if ext == ".png" && res.Libvips != "" {
			tight := filepath.Join(out, "pngsave.png")
			args := append([]string{"pngsave", oursOut, tight}, pngsaveArgs...)
			if b, err := exec.CommandContext(ctx, "vips", args...).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("vips pngsave: %v: %s", err, b)
			}
			row.PngsaveBytes = fileSize(tight)
		}
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}
