package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/iron-thumbs/iron_thumbs/config"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
	"github.com/iron-thumbs/iron_thumbs/urlsig"
)

// runSign prints a signed URL for a filename and size.
func runSign(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("base", "http://localhost:8080/r/iron_thumbs/thumbs", "the function's public `URL`")
	ttl := fs.Duration("ttl", 0, "lifetime of the URL, e.g. 24h (default: no expiry)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: SIGNING_KEY=... iron_thumbs sign [-base URL] [-ttl 24h] FILENAME SIZE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() != 2 {
		fs.Usage()
		return thumbs.BadRequest.ExitCode()
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return thumbs.Config.ExitCode()
	}
	if cfg.SigningKey == "" {
		fmt.Fprintln(stderr, "sign: SIGNING_KEY is not set")
		return thumbs.Config.ExitCode()
	}
	size, err := strconv.Atoi(fs.Arg(1))
	if err != nil {
		fmt.Fprintf(stderr, "sign: size %q: want a number of pixels\n", fs.Arg(1))
		return thumbs.BadRequest.ExitCode()
	}
	q := urlsig.Query([]byte(cfg.SigningKey), fs.Arg(0), size, *ttl, time.Now())
	if _, err := thumbs.ParseQuery(q, cfg.MaxWidth); err != nil {
		fmt.Fprintln(stderr, "sign:", err)
		return thumbs.BadRequest.ExitCode()
	}
	fmt.Fprintf(stdout, "%s?%s\n", *base, q)
	return 0
}

// runPurge deletes every stored thumbnail of the named files.
func runPurge(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	local := fs.String("local", "", "purge from the folder `DIR`/thumbs instead of S3")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: iron_thumbs purge [-local DIR] FILENAME...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		fs.Usage()
		return thumbs.BadRequest.ExitCode()
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return thumbs.Config.ExitCode()
	}
	_, th, closeAll, err := openStores(cfg, *local)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return thumbs.Config.ExitCode()
	}
	defer closeAll()
	for _, name := range fs.Args() {
		deleted, err := thumbs.Purge(ctx, th, name)
		for _, k := range deleted {
			fmt.Fprintln(stdout, "deleted", k)
		}
		if err != nil {
			fmt.Fprintf(stderr, "purge %s: %v\n", name, err)
			return thumbs.ExitCodeOf(err)
		}
	}
	return 0
}
