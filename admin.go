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

// command parses a subcommand's flags, checks its argument count and reads
// the configuration. A non-zero code means the command must exit with it
// (the reason is already on stderr).
func command(fs *flag.FlagSet, usage string, args []string, argsOK func(n int) bool,
	getenv func(string) string, stderr io.Writer) (config.Config, int) {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: "+usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || !argsOK(fs.NArg()) {
		fs.Usage()
		return config.Config{}, thumbs.BadRequest.ExitCode()
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return cfg, thumbs.Config.ExitCode()
	}
	return cfg, 0
}

// runSign prints a signed URL for a filename and size.
func runSign(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	base := fs.String("base", "http://localhost:8080/r/iron_thumbs/thumbs", "the function's public `URL`")
	ttl := fs.Duration("ttl", 0, "lifetime of the URL, e.g. 24h (default: no expiry)")
	cfg, code := command(fs, "SIGNING_KEY=... iron_thumbs sign [-base URL] [-ttl 24h] FILENAME SIZE",
		args, func(n int) bool { return n == 2 }, getenv, stderr)
	if code != 0 {
		return code
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
	local := fs.String("local", "", "purge from the folder `DIR`/thumbs instead of S3")
	cfg, code := command(fs, "iron_thumbs purge [-local DIR] FILENAME...",
		args, func(n int) bool { return n > 0 }, getenv, stderr)
	if code != 0 {
		return code
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
