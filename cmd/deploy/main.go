// Command deploy creates or updates the IronFunctions app and route of the
// thumbnail function so they match func.yaml and the function's settings.
// It changes only what differs, prints a short diff, never prints secret
// values, and with -dry-run prints the requests instead of sending them.
//
// Before it writes anything, it checks the settings and func.yaml, asks
// the server at API_URL whether it is IronFunctions (GET /version), and
// checks the S3 settings with the S3 server: credentials, both buckets,
// and (not in a dry run) a write to the thumbs bucket, a probe object
// under .iron_thumbs/deploy-check/ deleted at once.
//
// Settings come from the environment and from an env file (deploy.env by
// default; the environment wins): the function's settings (S3_ENDPOINT,
// S3_ACCESS_KEY, ... see the README) for the app's config, API_URL for the
// server (default http://localhost:8080), APP for the app's name (default
// iron_thumbs) and ROUTE_CACHE_CONTROL for an opt-in route Cache-Control.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/iron-thumbs/iron_thumbs/config"
	"github.com/iron-thumbs/iron_thumbs/internal/deploy"
	"github.com/iron-thumbs/iron_thumbs/internal/funcfile"
	"github.com/iron-thumbs/iron_thumbs/internal/ironapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("deploy", flag.ContinueOnError)
	fl.SetOutput(stderr)
	funcFile := fl.String("f", "func.yaml", "the function's `func.yaml`")
	envFile := fl.String("env", "deploy.env", "settings `file` of KEY=VALUE lines (missing is fine)")
	dryRun := fl.Bool("dry-run", false, "print the requests that would change something, send none")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	settings, err := readEnvFile(*envFile)
	if err != nil {
		return fail(stderr, err)
	}
	get := func(name string) string {
		if v, ok := lookup(name); ok {
			return v
		}
		return settings[name]
	}
	// Messages say where to change a setting: where it comes from, and
	// the file for one not set anywhere.
	where := func(name string) string {
		if _, ok := lookup(name); ok {
			return "the environment"
		}
		return *envFile
	}
	f, err := funcfile.Read(*funcFile)
	if err != nil {
		return fail(stderr, err)
	}
	cfg := map[string]string{}
	for _, name := range config.Names {
		if v := get(name); v != "" {
			cfg[name] = v
		}
	}
	app := get("APP")
	if app == "" {
		app = "iron_thumbs"
	}
	client, err := ironapi.New(get("API_URL"))
	if err != nil {
		return fail(stderr, fmt.Errorf("%w: fix it in %s", err, where("API_URL")))
	}
	mode := ""
	if *dryRun {
		mode = " (dry run: nothing is sent)"
	}
	fmt.Fprintf(stdout, "deploying %s (checkout %s) to app %s at %s%s\n",
		f.Image(), checkout(ctx, filepath.Dir(*funcFile)), app, client.URL(), mode)
	tg := deploy.Target{App: app, Func: f, Config: cfg, CacheControl: get("ROUTE_CACHE_CONTROL"), Where: where}
	o := deploy.Options{DryRun: *dryRun, Out: stdout}
	if err := deploy.Preflight(ctx, client, tg, o); err != nil {
		return fail(stderr, err)
	}
	if _, err := deploy.Apply(ctx, client, tg, o); err != nil {
		return fail(stderr, err)
	}
	return 0
}

// fail prints every line of err once, each saying it comes from deploy,
// and returns the exit code.
func fail(stderr io.Writer, err error) int {
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if !strings.HasPrefix(line, "deploy: ") {
			line = "deploy: " + line
		}
		fmt.Fprintln(stderr, line)
	}
	return 1
}

// revision names the checkout deployed when the command is built with
// -ldflags "-X main.revision=$(git rev-parse --short HEAD)". Unstamped
// (go run, as make deploy does), checkout asks git.
var revision string

// checkout returns the revision of the checkout holding func.yaml:
// revision when stamped, else git's short hash of HEAD when git answers
// quickly, else "unknown".
func checkout(ctx context.Context, dir string) string {
	if revision != "" {
		return revision
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--short", "HEAD").Output()
	if rev := strings.TrimSpace(string(out)); err == nil && rev != "" {
		return rev
	}
	return "unknown"
}

// readEnvFile reads KEY=VALUE lines; # starts a comment; values may be
// quoted. A missing file is an empty one.
func readEnvFile(path string) (map[string]string, error) {
	out := map[string]string{}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want KEY=VALUE", path, n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, sc.Err()
}
