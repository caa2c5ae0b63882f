// Package deploy makes an IronFunctions app and route match func.yaml and
// the function's settings, changing only what differs, the way `fn` does
// not: fn routes create ignores config, memory and headers, fn deploy skips
// an existing route, and fn cannot delete a config key.
package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/iron-thumbs/iron_thumbs/config"
	"github.com/iron-thumbs/iron_thumbs/internal/funcfile"
	"github.com/iron-thumbs/iron_thumbs/internal/ironapi"
)

// Target is what the app and route should be.
type Target struct {
	// App is the app's name.
	App string
	// Func is func.yaml: the route's image and settings.
	Func *funcfile.File
	// Config is the function's settings for the app's config, by the names
	// of config.Names. Managed names absent here are deleted from the app.
	Config map[string]string
	// CacheControl, when set, becomes the route's Cache-Control header.
	// IronFunctions sends route headers with error answers too, so a CDN
	// may cache an error: it is opt-in.
	CacheControl string
	// Where says where a setting (APP, API_URL and the function's)
	// comes from or, when unset, where to set it, as messages name it:
	// "deploy.env", "the environment". Messages say "the settings" when
	// Where is nil.
	Where func(setting string) string
}

// Options say how to run.
type Options struct {
	// DryRun prints the requests that would change something instead of
	// sending them.
	DryRun bool
	// Out receives the short diff (and the requests in a dry run).
	Out io.Writer
}

// managed reports whether an app config key is one of the function's
// settings, in any spelling the server maps to the same variable.
func managed(key string) (string, bool) {
	name := envName(key)
	return name, slices.Contains(config.Names, name)
}

// envName is the variable the server makes of a config key.
func envName(key string) string { return strings.ReplaceAll(strings.ToUpper(key), "-", "_") }

func show(name, value string) string {
	if config.Secret(envName(name)) {
		return "(secret)"
	}
	return fmt.Sprintf("%q", value)
}

// Route returns the route the target asks for.
func (t Target) Route() (ironapi.Route, error) {
	f := t.Func
	if err := f.Check(); err != nil {
		return ironapi.Route{}, err
	}
	if f.Path == "" {
		return ironapi.Route{}, errors.New("deploy: func.yaml has no path")
	}
	r := ironapi.Route{
		Path:           f.Path,
		Image:          f.Image(),
		Memory:         f.Memory,
		Type:           f.Type,
		Format:         f.Format,
		MaxConcurrency: f.MaxConcurrency,
		Timeout:        f.Timeout.Seconds(),
		IdleTimeout:    f.IdleTimeout.Seconds(),
		Config:         maps.Clone(f.Config),
		Headers:        map[string][]string{},
	}
	if r.Format == "" {
		r.Format = "default"
	}
	if r.Type == "" {
		r.Type = "sync"
	}
	for k, v := range f.Headers {
		r.Headers[k] = slices.Clone(v)
	}
	if t.CacheControl != "" {
		r.Headers["Cache-Control"] = []string{t.CacheControl}
	}
	return r, nil
}

type runner struct {
	c       *ironapi.Client
	o       Options
	changes int
}

func (r *runner) say(format string, args ...any) {
	if r.o.Out != nil {
		fmt.Fprintf(r.o.Out, format+"\n", args...)
	}
}

// send runs a mutating request, or prints it in a dry run.
func (r *runner) send(method, path string, body any, do func() error) error {
	r.changes++
	if r.o.DryRun {
		b, _ := json.Marshal(redact(body))
		r.say("  would send %s %s %s", method, path, b)
		return nil
	}
	return do()
}

// redact hides secret config values in a request body.
func redact(body any) any {
	b, _ := json.Marshal(body)
	var m map[string]map[string]any
	if json.Unmarshal(b, &m) != nil {
		return body
	}
	for _, obj := range m {
		if cfg, ok := obj["config"].(map[string]any); ok {
			for k, v := range cfg {
				if s, _ := v.(string); s != "" && config.Secret(envName(k)) {
					cfg[k] = "***"
				}
			}
		}
	}
	return m
}

// Apply makes the app and route match t. It returns the number of changes
// made (or, in a dry run, that would be made). It refuses a target that
// fails Check; Preflight runs the other checks first.
func Apply(ctx context.Context, c *ironapi.Client, t Target, o Options) (int, error) {
	if err := t.Check(); err != nil {
		return 0, err
	}
	want, err := t.Route()
	if err != nil {
		return 0, err
	}
	r := &runner{c: c, o: o}
	if err := r.app(ctx, t); err != nil {
		return r.changes, err
	}
	if err := r.route(ctx, t.App, want); err != nil {
		return r.changes, err
	}
	if r.changes == 0 {
		r.say("app %s and route %s are up to date", t.App, want.Path)
	}
	return r.changes, nil
}

func (r *runner) app(ctx context.Context, t Target) error {
	cur, err := r.c.GetApp(ctx, t.App)
	if ironapi.IsStatus(err, 404) {
		r.say("app %s: create", t.App)
		for _, k := range slices.Sorted(maps.Keys(t.Config)) {
			r.say("  + %s = %s", k, show(k, t.Config[k]))
		}
		body := ironapi.App{Name: t.App, Config: t.Config}
		err := r.send("POST", "/v1/apps", map[string]any{"app": body}, func() error {
			_, err := r.c.CreateApp(ctx, body)
			return err
		})
		if !ironapi.IsStatus(err, 409) {
			return err
		}
		// Created meanwhile by someone else: patch it like any other.
		if cur, err = r.c.GetApp(ctx, t.App); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	patch := map[string]string{}
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(cur.Config)) {
		name, ok := managed(k)
		if !ok {
			continue // another tool's key: leave it alone
		}
		v, wanted := t.Config[name]
		switch {
		case !wanted || k != name:
			patch[k] = "" // the server deletes a key sent as ""
			lines = append(lines, fmt.Sprintf("  - %s", k))
		case cur.Config[k] != v:
			patch[k] = v
			lines = append(lines, fmt.Sprintf("  ~ %s = %s", k, show(k, v)))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(t.Config)) {
		if _, ok := cur.Config[k]; !ok {
			patch[k] = t.Config[k]
			lines = append(lines, fmt.Sprintf("  + %s = %s", k, show(k, t.Config[k])))
		}
	}
	if len(patch) == 0 {
		return nil
	}
	slices.Sort(lines)
	r.say("app %s: config", t.App)
	for _, l := range lines {
		r.say("%s", l)
	}
	return r.send("PATCH", "/v1/apps/"+t.App, map[string]any{"app": ironapi.App{Config: patch}}, func() error {
		_, err := r.c.PatchApp(ctx, t.App, patch)
		return err
	})
}

// warnHot says, when a route it creates or updates is hot, that one
// request with another method than GET or POST on it crashes the whole
// server (CONTRACT.md): the function cannot defend itself, so something
// in front of the server must.
func (r *runner) warnHot(app string, route ironapi.Route) {
	if route.Format != "http" {
		return
	}
	r.say("WARNING: route %s%s is hot (format: http). One HEAD, PUT, DELETE, OPTIONS or PATCH request", app, route.Path)
	r.say("  to /r/%s%s crashes IronFunctions %s: every app and route on the server is down until", app, route.Path, TestedVersion)
	r.say("  it is restarted. Let only GET and POST reach /r/... (a reverse proxy or CDN rule in front")
	r.say("  of the server); see the README's \"Hot routes\" section.")
}

func (r *runner) route(ctx context.Context, app string, want ironapi.Route) error {
	cur, err := r.c.GetRoute(ctx, app, want.Path)
	if ironapi.IsStatus(err, 404) {
		if err := want.Check(); err != nil {
			return fmt.Errorf("deploy: refusing route %s: %w", want.Path, err)
		}
		r.say("route %s%s: create with image %s, format %s, timeout %ds, idle_timeout %ds, memory %d MB, max_concurrency %d",
			app, want.Path, want.Image, want.Format, want.Timeout, want.IdleTimeout, want.Memory, want.MaxConcurrency)
		err := r.send("POST", "/v1/apps/"+app+"/routes", map[string]any{"route": want}, func() error {
			_, err := r.c.CreateRoute(ctx, app, want)
			return err
		})
		if err == nil {
			r.warnHot(app, want)
		}
		if !ironapi.IsStatus(err, 409) {
			return err
		}
		if cur, err = r.c.GetRoute(ctx, app, want.Path); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	var patch ironapi.Route
	var lines []string
	diff := func(name string, from, to any) {
		lines = append(lines, fmt.Sprintf("  ~ %s: %v -> %v", name, from, to))
	}
	if cur.Image != want.Image {
		patch.Image = want.Image
		diff("image", cur.Image, want.Image)
	}
	if cur.Format != want.Format {
		patch.Format = want.Format
		diff("format", cur.Format, want.Format)
	}
	if cur.Type != want.Type {
		patch.Type = want.Type
		diff("type", cur.Type, want.Type)
	}
	if want.Memory != 0 && cur.Memory != want.Memory {
		patch.Memory = want.Memory
		diff("memory", cur.Memory, want.Memory)
	}
	if want.Timeout != 0 && cur.Timeout != want.Timeout {
		patch.Timeout = want.Timeout
		diff("timeout", cur.Timeout, want.Timeout)
	}
	if want.IdleTimeout != 0 && cur.IdleTimeout != want.IdleTimeout {
		patch.IdleTimeout = want.IdleTimeout
		diff("idle_timeout", cur.IdleTimeout, want.IdleTimeout)
	}
	if want.MaxConcurrency != 0 && cur.MaxConcurrency != want.MaxConcurrency {
		patch.MaxConcurrency = want.MaxConcurrency
		diff("max_concurrency", cur.MaxConcurrency, want.MaxConcurrency)
	}
	cfg := map[string]string{}
	for k := range cur.Config {
		if _, ok := want.Config[k]; !ok {
			cfg[k] = ""
			lines = append(lines, "  - config "+k)
		}
	}
	for k, v := range want.Config {
		if cur.Config[k] != v {
			cfg[k] = v
			lines = append(lines, fmt.Sprintf("  ~ config %s = %s", k, show(k, v)))
		}
	}
	if len(cfg) > 0 {
		patch.Config = cfg
	}
	// Headers: a non-empty list is appended to what is there, so a changed
	// header is deleted (empty list) in a first PATCH and set in a second.
	del := map[string][]string{}
	set := map[string][]string{}
	for k, vs := range cur.Headers {
		if w, ok := want.Headers[k]; !ok || !slices.Equal(w, vs) {
			del[k] = []string{}
			if !ok {
				lines = append(lines, "  - header "+k)
			}
		}
	}
	for k, vs := range want.Headers {
		if !slices.Equal(cur.Headers[k], vs) {
			set[k] = vs
			lines = append(lines, fmt.Sprintf("  ~ header %s: %q", k, vs))
		}
	}
	if len(set) > 0 {
		patch.Headers = set
	}
	// The rule applies to the route as it will be once patched.
	after := cur.Merge(ironapi.Route{Headers: del}).Merge(patch)
	if err := after.Check(); err != nil {
		return fmt.Errorf("deploy: refusing route %s as it would become: %w", want.Path, err)
	}
	if len(lines) == 0 {
		return nil
	}
	slices.Sort(lines)
	r.say("route %s%s: update", app, want.Path)
	for _, l := range lines {
		r.say("%s", l)
	}
	if err := r.patchRoute(ctx, app, want.Path, del, patch); err != nil {
		return err
	}
	r.warnHot(app, after)
	return nil
}

// patchRoute deletes the headers in del, then sends patch, each when not
// empty.
func (r *runner) patchRoute(ctx context.Context, app, route string, del map[string][]string, patch ironapi.Route) error {
	path := "/v1/apps/" + app + "/routes" + route
	if len(del) > 0 {
		p := ironapi.Route{Headers: del}
		if err := r.send("PATCH", path, map[string]any{"route": p}, func() error {
			_, err := r.c.PatchRoute(ctx, app, route, p)
			return err
		}); err != nil {
			return err
		}
	}
	if patch.Image == "" && patch.Format == "" && patch.Type == "" && patch.Memory == 0 && patch.Timeout == 0 &&
		patch.IdleTimeout == 0 && patch.MaxConcurrency == 0 && patch.Config == nil && patch.Headers == nil {
		return nil
	}
	return r.send("PATCH", path, map[string]any{"route": patch}, func() error {
		_, err := r.c.PatchRoute(ctx, app, route, patch)
		return err
	})
}
