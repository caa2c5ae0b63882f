package deploy_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/iron-thumbs/iron_thumbs/internal/deploy"
	"github.com/iron-thumbs/iron_thumbs/internal/funcfile"
	"github.com/iron-thumbs/iron_thumbs/internal/ironapi"
	"github.com/iron-thumbs/iron_thumbs/internal/ironapi/ironapitest"
)

const funcYAML = `
name: ironthumbs/iron_thumbs
version: 0.1.0
runtime: go
path: /thumbs
format: http
timeout: 30s
idle_timeout: 45s
memory: 512
max_concurrency: 2
`

func target(t *testing.T, edit func(*deploy.Target)) deploy.Target {
	t.Helper()
	f, err := funcfile.Parse([]byte(funcYAML))
	if err != nil {
		t.Fatal(err)
	}
	tg := deploy.Target{App: "iron_thumbs", Func: f, Config: map[string]string{
		"S3_ENDPOINT": "http://s3.example:9000", "S3_ACCESS_KEY": "AKIDSECRETVALUE", "S3_SECRET_KEY": "very-secret-value",
		"THUMB_CACHE": "on",
	}}
	if edit != nil {
		edit(&tg)
	}
	return tg
}

func apply(t *testing.T, srv *ironapitest.Server, tg deploy.Target, dry bool) (int, string) {
	t.Helper()
	c, err := ironapi.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	n, err := deploy.Apply(context.Background(), c, tg, deploy.Options{DryRun: dry, Out: &out})
	if err != nil {
		t.Fatalf("Apply: %v\n%s", err, out.String())
	}
	for _, secret := range []string{"AKIDSECRETVALUE", "very-secret-value", "new-secret"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("output shows a secret:\n%s", out.String())
		}
	}
	return n, out.String()
}

func TestFirstAndSecondDeploy(t *testing.T) {
	srv := ironapitest.New()
	defer srv.Close()
	n, out := apply(t, srv, target(t, nil), false)
	if n == 0 || !strings.Contains(out, "app iron_thumbs: create") || !strings.Contains(out, "route iron_thumbs/thumbs: create") {
		t.Errorf("first deploy: %d changes\n%s", n, out)
	}
	app := srv.App("iron_thumbs")
	if app == nil || app.Config["S3_ENDPOINT"] != "http://s3.example:9000" || app.Config["S3_SECRET_KEY"] != "very-secret-value" {
		t.Fatalf("app = %+v", app)
	}
	r := srv.Route("iron_thumbs", "/thumbs")
	if r == nil || r.Image != "ironthumbs/iron_thumbs:0.1.0" || r.Format != "http" || r.Timeout != 30 ||
		r.IdleTimeout != 45 || r.Memory != 512 || r.MaxConcurrency != 2 || len(r.Headers) != 0 {
		t.Fatalf("route = %+v", r)
	}
	before := len(srv.Mutations())
	n, out = apply(t, srv, target(t, nil), false)
	if n != 0 || len(srv.Mutations()) != before || !strings.Contains(out, "up to date") {
		t.Errorf("second deploy changed %d things (%d requests):\n%s", n, len(srv.Mutations())-before, out)
	}
}

func TestUpdates(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*deploy.Target)
		check func(t *testing.T, app *ironapi.App, r *ironapi.Route)
		diff  string
	}{
		{"changed config", func(tg *deploy.Target) { tg.Config["THUMB_CACHE"] = "off" }, func(t *testing.T, app *ironapi.App, _ *ironapi.Route) {
			if app.Config["THUMB_CACHE"] != "off" {
				t.Errorf("config %v", app.Config)
			}
		}, `~ THUMB_CACHE = "off"`},
		{"changed secret", func(tg *deploy.Target) { tg.Config["S3_SECRET_KEY"] = "new-secret" }, func(t *testing.T, app *ironapi.App, _ *ironapi.Route) {
			if app.Config["S3_SECRET_KEY"] != "new-secret" {
				t.Errorf("config %v", app.Config)
			}
		}, "~ S3_SECRET_KEY = (secret)"},
		{"removed config key", func(tg *deploy.Target) { delete(tg.Config, "THUMB_CACHE") }, func(t *testing.T, app *ironapi.App, _ *ironapi.Route) {
			if _, ok := app.Config["THUMB_CACHE"]; ok {
				t.Errorf("THUMB_CACHE still set: %v", app.Config)
			}
			if app.Config["OTHER_TOOL_KEY"] != "keep me" {
				t.Errorf("another tool's key was touched: %v", app.Config)
			}
		}, "- THUMB_CACHE"},
		{"changed image version", func(tg *deploy.Target) { tg.Func.Version = "0.2.0" }, func(t *testing.T, _ *ironapi.App, r *ironapi.Route) {
			if r.Image != "ironthumbs/iron_thumbs:0.2.0" || r.IdleTimeout != 45 {
				t.Errorf("route %+v", r)
			}
		}, "image: ironthumbs/iron_thumbs:0.1.0 -> ironthumbs/iron_thumbs:0.2.0"},
		{"changed header value", func(tg *deploy.Target) { tg.CacheControl = "public, max-age=600" }, func(t *testing.T, _ *ironapi.App, r *ironapi.Route) {
			if !slices.Equal(r.Headers["Cache-Control"], []string{"public, max-age=600"}) {
				t.Errorf("Cache-Control = %q, want exactly one value", r.Headers["Cache-Control"])
			}
		}, "header Cache-Control"},
		{"header removed", func(tg *deploy.Target) { tg.CacheControl = "" }, func(t *testing.T, _ *ironapi.App, r *ironapi.Route) {
			if _, ok := r.Headers["Cache-Control"]; ok {
				t.Errorf("headers %v", r.Headers)
			}
		}, "- header Cache-Control"},
		{"spelling of a managed key", nil, func(t *testing.T, app *ironapi.App, _ *ironapi.Route) {
			if _, ok := app.Config["s3-region"]; ok {
				t.Errorf("s3-region left beside the wanted keys: %v", app.Config)
			}
		}, "- s3-region"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := ironapitest.New()
			defer srv.Close()
			base := target(t, func(tg *deploy.Target) { tg.CacheControl = "public, max-age=60" })
			apply(t, srv, base, false)
			// Another tool's key, and a managed one spelled the server's other way.
			cl, _ := ironapi.New(srv.URL)
			if _, err := cl.PatchApp(context.Background(), "iron_thumbs", map[string]string{"OTHER_TOOL_KEY": "keep me", "s3-region": "eu-west-1"}); err != nil {
				t.Fatal(err)
			}
			tg := target(t, func(tg *deploy.Target) { tg.CacheControl = "public, max-age=60" })
			if c.edit != nil {
				c.edit(&tg)
			}
			n, out := apply(t, srv, tg, false)
			if n == 0 || !strings.Contains(out, c.diff) {
				t.Errorf("%d changes, want the diff to say %q:\n%s", n, c.diff, out)
			}
			c.check(t, srv.App("iron_thumbs"), srv.Route("iron_thumbs", "/thumbs"))
			if srv.App("iron_thumbs").Config["OTHER_TOOL_KEY"] != "keep me" {
				t.Error("another tool's key was touched")
			}
			if n, out := apply(t, srv, tg, false); n != 0 {
				t.Errorf("deploy after the update changed %d things:\n%s", n, out)
			}
		})
	}
}

func TestDryRunSendsNothing(t *testing.T) {
	srv := ironapitest.New()
	defer srv.Close()
	n, out := apply(t, srv, target(t, nil), true)
	if n == 0 || len(srv.Mutations()) != 0 {
		t.Errorf("dry run: %d changes, %d requests sent", n, len(srv.Mutations()))
	}
	if !strings.Contains(out, "would send POST /v1/apps ") || !strings.Contains(out, `"S3_SECRET_KEY":"***"`) {
		t.Errorf("dry run output:\n%s", out)
	}
}

func TestRefusesIdleTimeoutZero(t *testing.T) {
	f, err := funcfile.Parse([]byte(strings.Replace(funcYAML, "idle_timeout: 45s", "idle_timeout: 0s", 1)))
	if err == nil {
		t.Fatalf("func.yaml with a hot route and idle_timeout 0 accepted: %+v", f)
	}
	srv := ironapitest.New()
	defer srv.Close()
	c, _ := ironapi.New(srv.URL)
	tg := target(t, nil)
	tg.Func.IdleTimeout = 0
	if _, err := deploy.Apply(context.Background(), c, tg, deploy.Options{}); err == nil || len(srv.Mutations()) != 0 {
		t.Errorf("Apply = %v with %d requests; want a refusal and none sent", err, len(srv.Mutations()))
	}
}

func TestRefusesUnknownSetting(t *testing.T) {
	srv := ironapitest.New()
	defer srv.Close()
	c, _ := ironapi.New(srv.URL)
	tg := target(t, func(tg *deploy.Target) { tg.Config["NOT_OURS"] = "x" })
	if _, err := deploy.Apply(context.Background(), c, tg, deploy.Options{}); err == nil {
		t.Error("a setting the function does not have was accepted")
	}
}
