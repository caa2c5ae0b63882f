// Command iron_thumbs is a thumbnail function for IronFunctions.
//
// Called by IronFunctions it serves one call (the default format) or a
// stream of calls (FN_FORMAT=http, the hot format). Its subcommands run it
// as a local HTTP server and administer the thumbnails; see the README.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/iron-thumbs/iron_thumbs/ironfn"
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
  iron_thumbs warm [flags] [PREFIX...]     make missing and stale thumbnails ahead of traffic
  iron_thumbs version              print the version and the revision it was built from

Settings come from the environment; see the README's configuration table.
"iron_thumbs COMMAND -h" describes a command's flags.
`

// A command is a subcommand: it returns nil or the error that decides the
// exit code.
type command func(ctx context.Context, args []string, env *environment) error

// environment is what a command may use of the process.
type environment struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
	log            *slog.Logger
}

var commands = map[string]command{
	"serve":   runServe,
	"resize":  runResize,
	"sign":    runSign,
	"purge":   runPurge,
	"version": runVersion,
	"warm":    runWarm,
}

// run is the whole program; main only wires it to the process. Every
// failure reaches its one exit path: printed once (logged, for the doors
// that serve calls) and turned into the exit code of its kind.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &environment{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, log: newLogger(getenv, stderr)}
	name := "function"
	var err error
	switch {
	case len(args) == 0:
		err = runFunction(ctx, env)
	case args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help":
		fmt.Fprint(stdout, usage)
	case commands[args[0]] != nil:
		name = args[0]
		err = commands[name](ctx, args[1:], env)
	default:
		name = ""
		err = thumbs.Errorf(thumbs.KindBadRequest, "unknown command %q\n%s", args[0], usage)
	}
	var done logged
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &done):
	case name == "function" || name == "serve":
		env.log.Error(err.Error())
	case name == "":
		fmt.Fprintf(stderr, "iron_thumbs: %v", err)
	default:
		fmt.Fprintf(stderr, "iron_thumbs %s: %v\n", name, err)
	}
	return thumbs.ExitCode(err)
}

// oneCoreForHits runs a cold call on one core until it has a thumbnail to
// make: a hit needs no parallelism, and a second core only starts threads
// a hit pays for (the bench's cold-CPU table measures it). An operator's
// GOMAXPROCS wins.
func oneCoreForHits(getenv func(string) string) func(*thumbs.Options) {
	return func(o *thumbs.Options) {
		if getenv("GOMAXPROCS") != "" {
			return
		}
		runtime.GOMAXPROCS(1)
		o.BeforeTransform = runtime.SetDefaultGOMAXPROCS
	}
}

// newLogger logs text lines, or JSON ones with LOG_FORMAT=json. Another
// value is refused by the configuration; meanwhile the log is text.
func newLogger(getenv func(string) string, w io.Writer) *slog.Logger {
	if getenv("LOG_FORMAT") == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// logged marks an error the handler has already logged: run only turns
// it into the exit code.
type logged struct{ error }

func (l logged) Unwrap() error { return l.error }

// runFunction serves IronFunctions: one cold call, or hot calls until
// stdin closes.
func runFunction(ctx context.Context, env *environment) error {
	hot := env.getenv("FN_FORMAT") == "http"
	if hot {
		return runHot(ctx, env)
	}
	h, _, closeStores, err := newHandler(env, "", false, oneCoreForHits(env.getenv))
	if err != nil {
		return err
	}
	defer closeStores()
	limitMemory(env.getenv, 1)
	u := env.getenv("REQUEST_URL")
	if u == "" {
		return thumbs.Errorf(thumbs.KindBadRequest, "REQUEST_URL is not set: IronFunctions sets it on every call; "+
			"to try the function by hand run `iron_thumbs serve` or set REQUEST_URL='http//host/thumbs?filename=NAME&size=WIDTH'")
	}
	if err := ironfn.Cold(ctx, h, u, env.stdout); err != nil {
		return logged{err}
	}
	return nil
}
