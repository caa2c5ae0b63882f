// Command iron_thumbs is a thumbnail function for IronFunctions.
//
// Called by IronFunctions it serves one call (the default format) or a
// stream of calls (FN_FORMAT=http, the hot format). `iron_thumbs serve`
// runs it as a local HTTP server instead; see the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/iron-thumbs/iron_thumbs/config"
	"github.com/iron-thumbs/iron_thumbs/ironfn"
	"github.com/iron-thumbs/iron_thumbs/localstore"
	"github.com/iron-thumbs/iron_thumbs/s3store"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  iron_thumbs                      serve IronFunctions calls (cold, or hot when FN_FORMAT=http)
  iron_thumbs serve [flags]        serve /r/iron_thumbs/thumbs and /thumbs over HTTP
  iron_thumbs resize [flags] SRC   make a thumbnail of a local file
  iron_thumbs sign [flags] FILENAME SIZE   print a signed URL (SIGNING_KEY)
  iron_thumbs purge [flags] FILENAME...    delete every stored thumbnail of the files

Settings come from the environment; see the README's configuration table.
`

// run is the whole program; main only wires it to the process. It returns
// the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if len(args) == 0 {
		return runFunction(ctx, getenv, stdin, stdout, log)
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stderr, log)
	case "resize":
		return runResize(args[1:], getenv, stdout, stderr)
	case "sign":
		return runSign(args[1:], getenv, stdout, stderr)
	case "purge":
		return runPurge(ctx, args[1:], getenv, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "iron_thumbs: unknown command %q\n%s", args[0], usage)
	return thumbs.BadRequest.ExitCode()
}

// runFunction serves IronFunctions: one cold call, or hot calls until
// stdin closes.
func runFunction(ctx context.Context, getenv func(string) string, stdin io.Reader, stdout io.Writer, log *slog.Logger) int {
	hot := getenv("FN_FORMAT") == "http"
	h, closeStores, err := newHandler(getenv, "", log)
	if err != nil {
		log.Error(err.Error())
		if !hot {
			return thumbs.Config.ExitCode()
		}
		// A hot process that exits leaves the caller waiting for the route
		// timeout: answer every call with the configuration error instead.
		h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			thumbs.WriteError(w, thumbs.ConfigError(err))
		})
	}
	defer closeStores()
	if hot {
		if err := ironfn.Hot(ctx, h, stdin, stdout); err != nil {
			log.Error(err.Error())
			return thumbs.Internal.ExitCode()
		}
		return 0
	}
	u := getenv("REQUEST_URL")
	if u == "" {
		log.Error("thumbs: REQUEST_URL is not set: IronFunctions sets it on every call; " +
			"to try the function by hand run `iron_thumbs serve` or set REQUEST_URL='http//host/thumbs?filename=NAME&size=WIDTH'")
		return thumbs.BadRequest.ExitCode()
	}
	return ironfn.Cold(ctx, h, u, stdout)
}

// bucket is what main needs of a store: the handler's interface and the
// purge command's.
type bucket interface {
	thumbs.Store
	thumbs.PurgeStore
}

// openStores opens the buckets: the folders under localDir when it is
// set, the S3 buckets otherwise.
func openStores(cfg config.Config, localDir string) (images, th bucket, closeAll func(), err error) {
	if localDir != "" {
		img, err := localstore.Open(filepath.Join(localDir, cfg.ImageBucket))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("config: local store: %w", err)
		}
		if err := os.MkdirAll(filepath.Join(localDir, cfg.ThumbBucket), 0o755); err != nil {
			img.Close()
			return nil, nil, nil, fmt.Errorf("config: local store: %w", err)
		}
		t, err := localstore.Open(filepath.Join(localDir, cfg.ThumbBucket))
		if err != nil {
			img.Close()
			return nil, nil, nil, fmt.Errorf("config: local store: %w", err)
		}
		return img, t, func() { img.Close(); t.Close() }, nil
	}
	if err := cfg.CheckS3(); err != nil {
		return nil, nil, nil, err
	}
	client := s3store.NewClient(s3store.Options{
		Endpoint:  cfg.S3Endpoint,
		Region:    cfg.S3Region,
		AccessKey: cfg.S3AccessKey,
		SecretKey: cfg.S3SecretKey,
	})
	return s3store.New(client, cfg.ImageBucket), s3store.New(client, cfg.ThumbBucket), func() {}, nil
}

// newHandler reads the configuration and opens the stores.
func newHandler(getenv func(string) string, localDir string, log *slog.Logger, opts ...func(config.Config) thumbs.Option) (http.Handler, func(), error) {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return nil, func() {}, err
	}
	images, th, closeAll, err := openStores(cfg, localDir)
	if err != nil {
		return nil, func() {}, err
	}
	var hopts []thumbs.Option
	for _, o := range opts {
		hopts = append(hopts, o(cfg))
	}
	return thumbs.New(cfg, images, th, log, hopts...), closeAll, nil
}

// runServe is the local door: a plain HTTP server with real status codes.
func runServe(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, log *slog.Logger) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	local := fs.String("local", "", "serve from folders `DIR`/images and DIR/thumbs instead of S3")
	if err := fs.Parse(args); err != nil {
		return thumbs.BadRequest.ExitCode()
	}
	// The local server serves calls concurrently: bound the transforms.
	limit := func(cfg config.Config) thumbs.Option { return thumbs.LimitTransforms(cfg.Concurrency) }
	h, closeStores, err := newHandler(getenv, *local, log, limit)
	if err != nil {
		log.Error(err.Error())
		return thumbs.Config.ExitCode()
	}
	defer closeStores()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("serve: " + err.Error())
		return thumbs.Unavailable.ExitCode()
	}
	srv := &http.Server{
		Handler:           localMux(h),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	store := "S3"
	if *local != "" {
		store = "local folder " + *local
	}
	log.Info("serving thumbnails", "url", "http://"+ln.Addr().String()+"/r/iron_thumbs/thumbs?filename=NAME&size=WIDTH", "store", store)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		log.Error("serve: " + err.Error())
		return thumbs.Internal.ExitCode()
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve: shutdown: " + err.Error())
	}
	return 0
}

// localMux routes the function's paths to h, answering GET and HEAD.
func localMux(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			thumbs.WriteError(w, &thumbs.Error{Kind: thumbs.MethodNotAllowed, Msg: "method " + r.Method + " not allowed: use GET or HEAD"})
			return
		}
		h.ServeHTTP(w, r)
	})
	mux.Handle("/r/iron_thumbs/thumbs", fn)
	mux.Handle("/thumbs", fn)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	return mux
}
