package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/iron-thumbs/iron_thumbs/resize"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

// runResize thumbnails a local file with the code path of a cache miss, so
// a transform can be tried without any server.
func runResize(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("resize", flag.ContinueOnError)
	width := fs.Int("w", 180, "thumbnail width in pixels")
	out := fs.String("o", "", "write the thumbnail to `FILE` (default: stdout)")
	cfg, code := command(fs, "iron_thumbs resize [-w WIDTH] [-o OUT] SRC",
		args, func(n int) bool { return n == 1 }, getenv, stderr)
	if code != 0 {
		return code
	}
	if *width < 1 || *width > cfg.MaxWidth {
		fmt.Fprintf(stderr, "resize: -w %d: want 1 to %d\n", *width, cfg.MaxWidth)
		return thumbs.BadRequest.ExitCode()
	}
	src := fs.Arg(0)
	fi, err := os.Stat(src)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return thumbs.NotFound.ExitCode()
	}
	if fi.Size() > cfg.MaxSourceBytes {
		fmt.Fprintf(stderr, "resize: %s is %d bytes, more than the limit of %d\n", src, fi.Size(), cfg.MaxSourceBytes)
		return thumbs.TooLarge.ExitCode()
	}
	f, err := os.Open(src)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return thumbs.NotFound.ExitCode()
	}
	defer f.Close()
	res, err := resize.Thumbnail(f, resize.Options{Width: *width, MaxPixels: cfg.MaxSourcePixels,
		MaxBytes: cfg.MaxSourceBytes, JPEGQuality: cfg.JPEGQuality})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return thumbs.ExitCodeOf(err)
	}
	if *out == "" {
		if _, err := stdout.Write(res.Data); err != nil {
			fmt.Fprintln(stderr, err)
			return thumbs.Internal.ExitCode()
		}
		return 0
	}
	if err := os.WriteFile(*out, res.Data, 0o644); err != nil {
		fmt.Fprintln(stderr, err)
		return thumbs.Internal.ExitCode()
	}
	fmt.Fprintf(stderr, "%s: %dx%d -> %dx%d %s, %d bytes (decode %v, resize %v, encode %v)\n",
		*out, res.SrcWidth, res.SrcHeight, res.Width, res.Height, res.ContentType, len(res.Data), res.Decode, res.Resize, res.Encode)
	return 0
}
