package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/iron-thumbs/iron_thumbs/resize"
	"github.com/iron-thumbs/iron_thumbs/store"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

// runResize thumbnails a local file with the code path of a cache miss, so
// a transform can be tried without any server.
func runResize(ctx context.Context, args []string, env *environment) error {
	fs := flag.NewFlagSet("resize", flag.ContinueOnError)
	width := fs.Int("w", 180, "thumbnail width in pixels")
	out := fs.String("o", "", "write the thumbnail to `FILE` (default: stdout)")
	pos, err := parseFlags(fs, "iron_thumbs resize [-w WIDTH] [-o FILE] SRC", args, func(n int) bool { return n == 1 }, env.stdout)
	if err != nil {
		return err
	}
	cfg, err := readConfig(env)
	if err != nil {
		return err
	}
	if *width < 1 || *width > cfg.MaxWidth {
		return thumbs.Errorf(thumbs.KindBadRequest, "-w %d: want 1 to %d", *width, cfg.MaxWidth)
	}
	if *out != "" {
		if fi, err := os.Stat(*out); err == nil && fi.IsDir() {
			return thumbs.Errorf(thumbs.KindBadRequest, "-o %s is a folder: want a file name", *out)
		}
	}
	src := pos[0]
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("%w: %v", store.ErrNotFound, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %v", store.ErrNotFound, err)
	}
	if !fi.Mode().IsRegular() {
		return thumbs.Errorf(thumbs.KindBadRequest, "%s is not a regular file", src)
	}
	if fi.Size() > cfg.MaxSourceBytes {
		return thumbs.Errorf(thumbs.KindTooLarge, "%s is %d bytes, more than the limit of %d", src, fi.Size(), cfg.MaxSourceBytes)
	}
	to := cfg.Handler().Transform(*width)
	to.SourceSize = fi.Size()
	res, err := resize.Thumbnail(ctx, f, to)
	if err != nil {
		return err
	}
	if *out == "" {
		if _, err := env.stdout.Write(res.Data); err != nil {
			return &thumbs.Error{Kind: thumbs.KindInternal, Msg: "writing the thumbnail", Err: err}
		}
		return nil
	}
	if err := os.WriteFile(*out, res.Data, 0o644); err != nil {
		return &thumbs.Error{Kind: thumbs.KindInternal, Msg: "writing the thumbnail", Err: err}
	}
	fmt.Fprintf(env.stderr, "%s: %dx%d -> %dx%d %s, %d bytes (decode %v, resize %v, encode %v)\n",
		*out, res.SrcWidth, res.SrcHeight, res.Width, res.Height, res.ContentType, len(res.Data), res.Decode, res.Resize, res.Encode)
	return nil
}
