package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/iron-thumbs/iron_thumbs/config"
	"github.com/iron-thumbs/iron_thumbs/localstore"
	"github.com/iron-thumbs/iron_thumbs/s3store"
	"github.com/iron-thumbs/iron_thumbs/store"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

// errHelp ends a command that was asked for its usage: exit 0.
var errHelp = errors.New("help")

// parseFlags parses a command's flags, which may come before, between or
// after its arguments ("--" ends the flags), and checks the number of
// arguments. -h prints the usage and returns errHelp; a mistake returns a
// usage error (exit 64) that carries the usage.
func parseFlags(fs *flag.FlagSet, usage string, args []string, nargsOK func(int) bool, stdout io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: %s\n%s", usage, flagDefaults(fs))
			return nil, errHelp
		}
		if err != nil {
			return nil, usageError(fs, usage, err.Error())
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if dashdash := len(args) > len(rest) && args[len(args)-len(rest)-1] == "--"; dashdash {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	if !nargsOK(len(positional)) {
		return nil, usageError(fs, usage, "wrong number of arguments")
	}
	return positional, nil
}

func usageError(fs *flag.FlagSet, usage, problem string) error {
	return thumbs.Errorf(thumbs.KindBadRequest, "%s\nusage: %s\n%s", problem, usage, strings.TrimRight(flagDefaults(fs), "\n"))
}

func flagDefaults(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}

// readConfig reads the settings from the environment: a configuration
// error (exit 78) when they are wrong.
func readConfig(env *environment) (config.Config, error) {
	cfg, err := config.FromEnv(env.getenv)
	if err != nil {
		return cfg, thumbs.ConfigError(err, config.Redacted(err))
	}
	return cfg, nil
}

// bucket is what the commands need of a store: the handler's interface,
// the purge command's, and a listing for warm.
type bucket interface {
	thumbs.Store
	thumbs.PurgeStore
	Walk(ctx context.Context, prefix string, fn func(store.Item) error) error
}

// openStores opens the buckets: the folders under localDir when it is
// set, the S3 buckets otherwise.
func openStores(cfg config.Config, localDir string) (images, th bucket, closeAll func(), err error) {
	if localDir != "" {
		fail := func(err error) (bucket, bucket, func(), error) {
			return nil, nil, nil, thumbs.ConfigError(fmt.Errorf("local store: %w", err), "")
		}
		if err := separateFolders(filepath.Join(localDir, cfg.ImageBucket), filepath.Join(localDir, cfg.ThumbBucket)); err != nil {
			return fail(err)
		}
		img, err := localstore.Open(filepath.Join(localDir, cfg.ImageBucket))
		if err != nil {
			return fail(err)
		}
		if err := os.MkdirAll(filepath.Join(localDir, cfg.ThumbBucket), 0o755); err != nil {
			img.Close()
			return fail(err)
		}
		t, err := localstore.Open(filepath.Join(localDir, cfg.ThumbBucket))
		if err != nil {
			img.Close()
			return fail(err)
		}
		return img, t, func() { img.Close(); t.Close() }, nil
	}
	if err := cfg.CheckS3(); err != nil {
		return nil, nil, nil, thumbs.ConfigError(err, config.Redacted(err))
	}
	client := s3store.NewClient(cfg.S3Options())
	return s3store.New(client, cfg.ImageBucket), s3store.New(client, cfg.ThumbBucket), func() {}, nil
}

// newHandler reads the configuration and opens the stores. A concurrent
// door (the local server) bounds the transforms at once to
// THUMB_CONCURRENCY.
func newHandler(env *environment, localDir string, concurrent bool, tune ...func(*thumbs.Options)) (*thumbs.Handler, config.Config, func(), error) {
	cfg, err := readConfig(env)
	if err != nil {
		return nil, cfg, func() {}, err
	}
	images, th, closeAll, err := openStores(cfg, localDir)
	if err != nil {
		return nil, cfg, func() {}, err
	}
	opts := cfg.Handler()
	if concurrent {
		opts.MaxTransforms = cfg.Concurrency
	}
	for _, f := range tune {
		f(&opts)
	}
	return thumbs.New(opts, images, th, env.log), cfg, closeAll, nil
}

// separateFolders refuses an images folder and a thumbs folder that are
// one, or one inside the other: thumbnails would be read as originals, and
// purge would delete originals.
func separateFolders(images, thumbs string) error {
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			a = p
		}
		if r, err := filepath.EvalSymlinks(a); err == nil {
			a = r
		}
		return filepath.Clean(a)
	}
	a, b := abs(images), abs(thumbs)
	inside := func(x, y string) bool { return x == y || strings.HasPrefix(x, y+string(filepath.Separator)) }
	if inside(a, b) || inside(b, a) {
		return fmt.Errorf("IMAGE_BUCKET and THUMB_BUCKET name the same folder or one inside the other (%s, %s): give each its own", images, thumbs)
	}
	return nil
}
