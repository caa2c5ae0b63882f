package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

// runServe is the local door: a plain HTTP server with real status codes.
func runServe(ctx context.Context, args []string, env *environment) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	local := fs.String("local", "", "serve from folders `DIR`/images and DIR/thumbs instead of S3")
	if _, err := parseFlags(fs, "iron_thumbs serve [-addr HOST:PORT] [-local DIR]", args, none, env.stdout); err != nil {
		return err
	}
	h, cfg, closeStores, err := newHandler(env, *local, true)
	if err != nil {
		return err
	}
	defer closeStores()
	limitMemory(env.getenv, cfg.Concurrency)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return &thumbs.Error{Kind: thumbs.KindUnavailable, Msg: "serve: cannot listen on " + *addr, Err: err}
	}
	srv := &http.Server{
		Handler: localMux(releaseAfter(h)),
		// A client that trickles or withholds its request, or does not
		// read the answer, holds a connection for seconds, not forever.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      cfg.CallTimeout + 10*time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	store := "S3"
	if *local != "" {
		store = "local folder " + *local
	}
	env.log.Info("serving thumbnails", "version", versionString(), "url", "http://"+ln.Addr().String()+"/r/iron_thumbs/thumbs?filename=NAME&size=WIDTH", "store", store)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return &thumbs.Error{Kind: thumbs.KindInternal, Msg: "serve", Err: err}
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		env.log.Error("serve: shutdown: " + err.Error())
	}
	return nil
}

// none accepts no arguments.
func none(n int) bool { return n == 0 }

// localMux routes the function's paths to h, answering GET and HEAD.
func localMux(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			thumbs.WriteError(w, thumbs.Errorf(thumbs.KindMethodNotAllowed, "method %s not allowed: use GET or HEAD", r.Method))
			return
		}
		h.ServeHTTP(w, r)
	})
	mux.Handle("/r/iron_thumbs/thumbs", fn)
	mux.Handle("/thumbs", fn)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	return mux
}
