package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Report is a bench run's result.
type Report struct {
	Machine string // machine(): cores, CPU, Go, OS, date
	Build   string // the function's `iron_thumbs version`
	Quick   bool
	Tool    string
	Notes   []string // sources skipped, and why
	Rows    []Row
	Vips    *VipsResult
	CPU     *CPUResult
}

// The 2017 write-up's figures: ab -n 1000 -c 10 on the 400 px image, other
// hardware, a Docker container started per call.
var figures2017 = []Row{
	{Scenario: "2017 prototype, cached (other hardware, Docker cold start per call)", Stats: Stats{MeanMS: 7542.938, Requests: 1000}},
	{Scenario: "2017 prototype, always make (other hardware, Docker cold start per call)", Stats: Stats{MeanMS: 8417.722, Requests: 1000}},
}

func kb(v int64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MB", float64(v)/1024)
}

// Markdown renders the tables, each under the machine line.
func (r *Report) Markdown() string {
	var b strings.Builder
	title := "Benchmark"
	if r.Quick {
		title = "Benchmark (quick smoke run: small images, a few requests; not figures to quote)"
	}
	fmt.Fprintf(&b, "### %s\n\nMachine: %s. Function: %s. Load: %s (ApacheBench; our own generator for the mixed run).\n\n",
		title, r.Machine, r.Build, r.Tool)
	b.WriteString("\"Always make\" runs the function with THUMB_CACHE=off: every call makes its thumbnail; nothing is shared " +
		"between calls, identical concurrent ones included. \"Cached\" calls hit a thumbnail made by the first call. " +
		"Thumbnails are 180 px wide; \"bytes\" is the size of the one answered. Peak RSS is the largest of the function's processes: " +
		"cold, each process's own under GNU time, the warm-up call left out; hot and local door, the processes' high-water mark, warm-up included.\n\n")
	for _, n := range r.Notes {
		b.WriteString(n + "\n\n")
	}
	b.WriteString("| scenario | clients | requests | req/s | mean ms | p50 ms | p99 ms | failed | non-2xx | peak RSS (function) | bytes |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range r.Rows {
		name := row.Scenario
		if row.Note != "" {
			name += " (" + row.Note + ")"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %.1f | %.2f | %.0f | %.0f | %d | %d | %s | %s |\n", name, row.Clients, row.Requests, row.RPS,
			row.MeanMS, row.P50MS, row.P99MS, row.Failed, row.Non2xx, kb(row.PeakRSSKB), count(row.Bytes))
	}
	for _, row := range figures2017 {
		fmt.Fprintf(&b, "| %s | 10 | %d | | %.3f | | | | | | |\n", row.Scenario, row.Requests, row.MeanMS)
	}
	if r.Vips != nil {
		b.WriteString("\n")
		b.WriteString(r.Vips.Markdown(r.Machine))
	}
	if r.CPU != nil {
		b.WriteString("\n")
		b.WriteString(r.CPU.Markdown(r.Machine))
	}
	return b.String()
}

// Write puts latest.md and latest.png into dir.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.md"), []byte(r.Markdown()), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "latest.png"))
	if err != nil {
		return err
	}
	if err := png.Encode(f, r.Chart()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Chart draws mean and p99 latency per scenario on a log scale.
func (r *Report) Chart() image.Image {
	rows := append(append([]Row{}, r.Rows...), figures2017...)
	const (
		left, right, top, rowH = 470, 40, 60, 28
		width                  = 1200
		minMS, maxMS           = 0.1, 10000.0
	)
	height := top + rowH*len(rows) + 70
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	face := basicfont.Face7x13
	text := func(x, y int, s string, c color.Color) {
		d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: face, Dot: fixed.P(x, y)}
		d.DrawString(s)
	}
	plotW := width - left - right
	xOf := func(ms float64) int {
		ms = math.Max(minMS, math.Min(maxMS, ms))
		return left + int(float64(plotW)*math.Log10(ms/minMS)/math.Log10(maxMS/minMS))
	}
	fill := func(x0, y0, x1, y1 int, c color.Color) {
		draw.Draw(img, image.Rect(x0, y0, x1, y1), image.NewUniform(c), image.Point{}, draw.Src)
	}
	grey := color.RGBA{200, 200, 200, 255}
	text(10, 20, "iron_thumbs: latency per request, ms (log scale). Blue: mean; orange: p99.", color.Black)
	// The bitmap font is ASCII only.
	ascii := func(s string) string { return strings.ReplaceAll(s, "×", "x") }
	text(10, 38, ascii("Machine: "+r.Machine+". Function: "+r.Build), color.Black)
	for ms := minMS; ms <= maxMS; ms *= 10 {
		x := xOf(ms)
		fill(x, top-8, x+1, top+rowH*len(rows), grey)
		text(x-10, height-45, strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", ms), "0"), "."), color.Black)
	}
	blue := color.RGBA{50, 110, 200, 255}
	orange := color.RGBA{235, 140, 40, 255}
	for i, row := range rows {
		y := top + i*rowH
		label := ascii(row.Scenario)
		if len(label) > 64 {
			label = label[:61] + "..."
		}
		text(10, y+14, label, color.Black)
		fill(left, y+2, xOf(row.MeanMS), y+12, blue)
		if row.P99MS > 0 {
			fill(left, y+14, xOf(row.P99MS), y+22, orange)
		}
		text(xOf(math.Max(row.MeanMS, row.P99MS))+6, y+14, fmt.Sprintf("%.1f", row.MeanMS), color.Black)
	}
	return img
}
