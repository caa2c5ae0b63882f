package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/iron-thumbs/iron_thumbs/thumbs"
	"github.com/iron-thumbs/iron_thumbs/urlsig"
)

// runSign prints a signed URL for a filename and size.
func runSign(_ context.Context, args []string, env *environment) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	base := fs.String("base", "http://localhost:8080/r/iron_thumbs/thumbs", "the function's public `URL`")
	ttl := fs.Duration("ttl", 0, "lifetime of the URL, more than 0, e.g. 24h (default: no expiry)")
	pos, err := parseFlags(fs, "SIGNING_KEY=... iron_thumbs sign [-base URL] [-ttl 24h] FILENAME SIZE",
		args, func(n int) bool { return n == 2 }, env.stdout)
	if err != nil {
		return err
	}
	ttlSet := false
	fs.Visit(func(f *flag.Flag) { ttlSet = ttlSet || f.Name == "ttl" })
	if ttlSet && *ttl <= 0 {
		return thumbs.Errorf(thumbs.KindBadRequest, "-ttl %v: want a lifetime of more than 0 (leave -ttl out for a URL that never expires)", *ttl)
	}
	cfg, err := readConfig(env)
	if err != nil {
		return err
	}
	if cfg.SigningKey == "" {
		return thumbs.Errorf(thumbs.KindConfig, "SIGNING_KEY is not set")
	}
	filename, size := pos[0], pos[1]
	if _, err := strconv.Atoi(size); err != nil {
		return thumbs.Errorf(thumbs.KindBadRequest, "size %q: want a number of pixels", size)
	}
	req, err := thumbs.ParseQuery("filename="+url.QueryEscape(filename)+"&size="+size, cfg.MaxWidth)
	if err != nil {
		return err
	}
	if err := cfg.Handler().CheckSize(req.Width); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "%s?%s\n", *base, urlsig.Query([]byte(cfg.SigningKey), req.Filename, req.Width, *ttl, time.Now()))
	return nil
}
