package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/iron-thumbs/iron_thumbs/internal/funcfile"
	"github.com/iron-thumbs/iron_thumbs/internal/ironapi/ironapitest"
	"github.com/iron-thumbs/iron_thumbs/internal/s3test"
	"github.com/iron-thumbs/iron_thumbs/s3store"
)

// fixture is a deploy.env, an environment and the servers they name.
type fixture struct {
	t       *testing.T
	api     *ironapitest.Server
	s3      *s3test.Server
	envFile string
	env     map[string]string
}

func newFixture(t *testing.T) *fixture {
	fx := &fixture{t: t, api: ironapitest.New(), s3: s3test.Start(t, "images", "thumbs")}
	t.Cleanup(fx.api.Close)
	fx.envFile = filepath.Join(t.TempDir(), "deploy.env")
	fx.writeEnv(`# settings
S3_ENDPOINT=` + fx.s3.Endpoint + `
S3_ACCESS_KEY="` + fx.s3.AccessKey + `"
export S3_SECRET_KEY='` + fx.s3.SecretKey + `'
`)
	fx.env = map[string]string{"API_URL": fx.api.URL, "THUMB_CACHE": "off"}
	return fx
}

func (fx *fixture) writeEnv(s string) {
	if err := os.WriteFile(fx.envFile, []byte(s), 0o644); err != nil {
		fx.t.Fatal(err)
	}
}

// deploy runs the command and returns its exit code, stdout and stderr.
func (fx *fixture) deploy(args ...string) (int, string, string) {
	fx.t.Helper()
	var out, errOut bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := fx.env[k]; return v, ok }
	args = append([]string{"-f", "../../func.yaml", "-env", fx.envFile}, args...)
	code := run(context.Background(), args, lookup, &out, &errOut)
	if all := out.String() + errOut.String(); strings.Contains(all, fx.s3.SecretKey) || strings.Contains(all, fx.s3.AccessKey) {
		fx.t.Errorf("a secret was printed:\n%s", all)
	}
	return code, out.String(), errOut.String()
}

// inOrder reports whether the lines appear in out in this order.
func inOrder(out string, parts ...string) bool {
	at := 0
	for _, p := range parts {
		i := strings.Index(out[at:], p)
		if i < 0 {
			return false
		}
		at += i + len(p)
	}
	return true
}

func TestDeployCommand(t *testing.T) {
	fx := newFixture(t)
	fx.env["THUMB_CACHE"] = "on"
	code, out, errOut := fx.deploy("-dry-run")
	if code != 0 || len(fx.api.Mutations()) != 0 {
		t.Fatalf("dry run: exit %d, %d requests:\n%s%s", code, len(fx.api.Mutations()), out, errOut)
	}
	f, err := funcfile.Read("../../func.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !inOrder(out,
		"deploying "+f.Image()+" (checkout ", ") to app iron_thumbs at "+fx.api.URL+" (dry run: nothing is sent)\n",
		"IronFunctions 0.2.72 at "+fx.api.URL+"\n",
		"S3 at "+fx.s3.Endpoint+": IMAGE_BUCKET=images found\n",
		"S3 at "+fx.s3.Endpoint+": THUMB_BUCKET=thumbs found\n",
		"S3 at "+fx.s3.Endpoint+": THUMB_BUCKET=thumbs not written to in a dry run\n",
		"app iron_thumbs: create", "would send POST /v1/apps ",
		"route iron_thumbs/thumbs: create", "would send POST /v1/apps/iron_thumbs/routes",
	) || !strings.HasPrefix(out, "deploying ") {
		t.Errorf("dry run output, not in the expected order:\n%s", out)
	}
	if strings.Contains(out, "WARNING: route") {
		t.Errorf("the shipped route is cold, yet a hot-route warning:\n%s", out)
	}
	code, out, errOut = fx.deploy()
	if code != 0 || !strings.Contains(out, "route iron_thumbs/thumbs: create") ||
		!strings.Contains(out, "THUMB_BUCKET=thumbs takes writes (put and deleted "+s3store.CheckPrefix) {
		t.Fatalf("deploy: exit %d:\n%s%s", code, out, errOut)
	}
	app := fx.api.App("iron_thumbs")
	if app.Config["S3_ACCESS_KEY"] != fx.s3.AccessKey || app.Config["S3_SECRET_KEY"] != fx.s3.SecretKey || app.Config["THUMB_CACHE"] != "on" {
		t.Errorf("app config %v", app.Config)
	}
	if keys, err := s3store.New(fx.s3.Client(), "thumbs").List(context.Background(), ""); err != nil || len(keys) != 0 {
		t.Errorf("the write check left %q (%v)", keys, err)
	}
	n := len(fx.api.Mutations())
	code, out, _ = fx.deploy()
	if code != 0 || len(fx.api.Mutations()) != n || !strings.Contains(out, "up to date") || strings.Contains(out, "WARNING") {
		t.Errorf("second deploy: exit %d, %d new requests:\n%s", code, len(fx.api.Mutations())-n, out)
	}
}

// TestRefusedDeploys: each fault stops the deploy before any write to the
// API, with one message naming the setting and where to change it.
func TestRefusedDeploys(t *testing.T) {
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head></html>")
	}))
	defer html.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	fx := newFixture(t)
	file := fx.envFile
	cases := []struct {
		name string
		env  map[string]string // over the fixture's; "" values are set empty
		file string            // appended to deploy.env
		want string            // the whole of stderr, with FILE for the env file
	}{
		{"not IronFunctions: 404 to everything", map[string]string{"API_URL": notFound.URL}, "",
			"deploy: API_URL=" + notFound.URL + ` is not an IronFunctions server: GET /version answered 404 text/plain "404 page not found"`},
		{"not IronFunctions: a web page", map[string]string{"API_URL": html.URL}, "",
			"deploy: API_URL=" + html.URL + ` is not an IronFunctions server: GET /version answered 200 text/html "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></he"...`},
		{"nothing at API_URL", map[string]string{"API_URL": down.URL}, "",
			"deploy: API_URL=" + down.URL + ": no answer (dial tcp " + strings.TrimPrefix(down.URL, "http://") +
				": connect: connection refused): is the IronFunctions server running, and is API_URL right? (set it in the environment)"},
		{"API_URL without a scheme", map[string]string{"API_URL": "localhost:8080"}, "",
			`deploy: ironapi: API_URL "localhost:8080": want http://host:port: fix it in the environment`},
		{"wrong secret", map[string]string{"S3_SECRET_KEY": "wrong-secret"}, "",
			"deploy: S3_ACCESS_KEY/S3_SECRET_KEY: refused by " + fx.s3.Endpoint + ": SignatureDoesNotMatch: fix them in FILE and the environment"},
		{"wrong secret in the file", nil, "S3_SECRET_KEY=wrong-secret\n",
			"deploy: S3_ACCESS_KEY/S3_SECRET_KEY: refused by " + fx.s3.Endpoint + ": SignatureDoesNotMatch: fix them in FILE"},
		{"no thumbs bucket", map[string]string{"THUMB_CACHE": "on"}, "THUMB_BUCKET=thumbnails\n",
			"deploy: THUMB_BUCKET=thumbnails: no such bucket at " + fx.s3.Endpoint + ": create it, or fix THUMB_BUCKET in FILE"},
		{"no images bucket", nil, "IMAGE_BUCKET=originals\n",
			"deploy: IMAGE_BUCKET=originals: no such bucket at " + fx.s3.Endpoint + ": create it, or fix IMAGE_BUCKET in FILE"},
		{"secret set empty in the environment", map[string]string{"S3_SECRET_KEY": ""}, "",
			"deploy: S3_SECRET_KEY not set: set S3_SECRET_KEY in the environment (and S3_ENDPOINT, unless the store is AWS S3)"},
		{"app name", map[string]string{"APP": "Iron Thumbs"}, "",
			`deploy: APP="Iron Thumbs": an app name is lowercase letters, digits, _ and -, at most 30 characters: change APP in the environment`},
		{"CALL_TIMEOUT", nil, "CALL_TIMEOUT=40s\n",
			"deploy: CALL_TIMEOUT=40s is not below func.yaml's timeout 30s: lower CALL_TIMEOUT in FILE or raise timeout in func.yaml"},
		{"two faults at once", map[string]string{"APP": "a.b"}, "CALL_TIMEOUT=30s\n",
			`deploy: APP="a.b": an app name is lowercase letters, digits, _ and -, at most 30 characters: change APP in the environment` + "\n" +
				"deploy: CALL_TIMEOUT=30s is not below func.yaml's timeout 30s: lower CALL_TIMEOUT in FILE or raise timeout in func.yaml"},
		{"not a duration", nil, "CALL_TIMEOUT=10\n",
			`deploy: CALL_TIMEOUT="10": want a Go duration such as 10s: fix it in FILE`},
	}
	base, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx.env = map[string]string{"API_URL": fx.api.URL, "THUMB_CACHE": "off"}
			for k, v := range c.env {
				fx.env[k] = v
			}
			fx.writeEnv(string(base) + c.file)
			code, out, errOut := fx.deploy()
			want := strings.ReplaceAll(c.want, "FILE", file) + "\n"
			if code != 1 || errOut != want {
				t.Errorf("exit %d, stderr\n%s\nwant\n%s\nstdout:\n%s", code, errOut, want, out)
			}
			if strings.Contains(out, ": create") || strings.Contains(out, ": update") {
				t.Errorf("stdout:\n%s", out)
			}
		})
	}
	if m := fx.api.Mutations(); len(m) != 0 {
		t.Errorf("refused deploys sent %v", m)
	}
	if keys, err := s3store.New(fx.s3.Client(), "thumbs").List(context.Background(), ""); err != nil || len(keys) != 0 {
		t.Errorf("refused deploys wrote %q (%v) to S3", keys, err)
	}
}

// TestUnreachableS3IsAWarning: an endpoint this machine cannot reach may
// be reachable from the IronFunctions server: the deploy goes on.
func TestUnreachableS3IsAWarning(t *testing.T) {
	fx := newFixture(t)
	fx.env["S3_ENDPOINT"] = "http://127.0.0.1:1"
	fx.env["THUMB_CACHE"] = "on"
	code, out, errOut := fx.deploy()
	if code != 0 || !inOrder(out, "IronFunctions 0.2.72",
		"WARNING: S3_ENDPOINT=http://127.0.0.1:1 cannot be reached from here (dial tcp 127.0.0.1:1: connect: connection refused)",
		"app iron_thumbs: create") {
		t.Errorf("exit %d:\n%s%s", code, out, errOut)
	}
	if fx.api.Route("iron_thumbs", "/thumbs") == nil {
		t.Error("no route after the deploy")
	}
}

func TestCheckoutRevision(t *testing.T) {
	t.Setenv("GIT_CEILING_DIRECTORIES", os.TempDir())
	noGit := t.TempDir()
	if got := checkout(context.Background(), noGit); got != "unknown" {
		t.Errorf("outside a checkout: %q, want unknown", got)
	}
	if _, err := exec.LookPath("git"); err == nil {
		repo := t.TempDir()
		git := func(args ...string) string {
			out, err := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...).Output()
			if err != nil {
				t.Fatalf("git %v: %v", args, err)
			}
			return strings.TrimSpace(string(out))
		}
		git("init", "-q")
		git("commit", "-q", "--allow-empty", "-m", "one")
		want := git("rev-parse", "--short", "HEAD")
		if got := checkout(context.Background(), repo); got != want || !regexp.MustCompile(`^[0-9a-f]{7,}$`).MatchString(got) {
			t.Errorf("in a checkout: %q, want %q", got, want)
		}
	}
	revision = "v1.2.3-abc"
	defer func() { revision = "" }()
	if got := checkout(context.Background(), noGit); got != "v1.2.3-abc" {
		t.Errorf("stamped: %q", got)
	}
}
