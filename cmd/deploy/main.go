// Command deploy creates or updates the IronFunctions app and route of the
// thumbnail function so they match func.yaml and the function's settings.
// It changes only what differs, prints a short diff, never prints secret
// values, and with -dry-run prints the requests instead of sending them.
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
	"os/signal"
	"strings"

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
		fmt.Fprintln(stderr, "deploy:", err)
		return 1
	}
	get := func(name string) string {
		if v, ok := lookup(name); ok {
			return v
		}
		return settings[name]
	}
	f, err := funcfile.Read(*funcFile)
	if err != nil {
		fmt.Fprintln(stderr, "deploy:", err)
		return 1
	}
	cfg := map[string]string{}
	for _, name := range config.Names {
		if v := get(name); v != "" {
			cfg[name] = v
		}
	}
	// Ship nothing the function would refuse at start.
	c, err := config.FromEnv(func(k string) string { return cfg[k] })
	if err == nil {
		err = c.CheckS3()
	}
	if err != nil {
		fmt.Fprintln(stderr, "deploy:", err)
		return 1
	}
	app := get("APP")
	if app == "" {
		app = "iron_thumbs"
	}
	client, err := ironapi.New(get("API_URL"))
	if err != nil {
		fmt.Fprintln(stderr, "deploy:", err)
		return 1
	}
	mode := ""
	if *dryRun {
		mode = " (dry run: nothing is sent)"
	}
	fmt.Fprintf(stdout, "deploying %s to app %s at %s%s\n", f.Image(), app, client.URL(), mode)
	_, err = deploy.Apply(ctx, client, deploy.Target{
		App: app, Func: f, Config: cfg, CacheControl: get("ROUTE_CACHE_CONTROL"),
	}, deploy.Options{DryRun: *dryRun, Out: stdout})
	if err != nil {
		fmt.Fprintln(stderr, "deploy:", err)
		return 1
	}
	return 0
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
