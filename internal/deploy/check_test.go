package deploy_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/iron-thumbs/iron_thumbs/internal/deploy"
	"github.com/iron-thumbs/iron_thumbs/internal/faultproxy"
	"github.com/iron-thumbs/iron_thumbs/internal/funcfile"
	"github.com/iron-thumbs/iron_thumbs/internal/ironapi"
	"github.com/iron-thumbs/iron_thumbs/internal/ironapi/ironapitest"
	"github.com/iron-thumbs/iron_thumbs/internal/s3test"
	"github.com/iron-thumbs/iron_thumbs/s3store"
)

// fromFile says every setting comes from deploy.env.
func fromFile(string) string { return "deploy.env" }

func TestCheck(t *testing.T) {
	funcYAMLWith := func(old, new string) func(*deploy.Target) {
		return func(tg *deploy.Target) {
			f, err := funcfile.Parse([]byte(strings.Replace(funcYAML, old, new, 1)))
			if err != nil {
				t.Fatal(err)
			}
			tg.Func = f
		}
	}
	cases := []struct {
		name string
		edit func(*deploy.Target)
		want []string // lines of the error; none: no error
	}{
		{"as shipped", nil, nil},
		{"CALL_TIMEOUT above the route timeout", func(tg *deploy.Target) { tg.Config["CALL_TIMEOUT"] = "40s" },
			[]string{"deploy: CALL_TIMEOUT=40s is not below func.yaml's timeout 30s: lower CALL_TIMEOUT in deploy.env or raise timeout in func.yaml"}},
		{"CALL_TIMEOUT equal to the route timeout", func(tg *deploy.Target) { tg.Config["CALL_TIMEOUT"] = "30s" },
			[]string{"deploy: CALL_TIMEOUT=30s is not below func.yaml's timeout 30s: lower CALL_TIMEOUT in deploy.env or raise timeout in func.yaml"}},
		{"CALL_TIMEOUT just below", func(tg *deploy.Target) { tg.Config["CALL_TIMEOUT"] = "29s" }, nil},
		{"default CALL_TIMEOUT against a short route timeout", funcYAMLWith("timeout: 30s", "timeout: 10s"),
			[]string{"deploy: CALL_TIMEOUT=10s (its default) is not below func.yaml's timeout 10s: lower CALL_TIMEOUT in deploy.env or raise timeout in func.yaml"}},
		{"no route timeout: the server's 30s", func(tg *deploy.Target) {
			funcYAMLWith("timeout: 30s\n", "")(tg)
			tg.Config["CALL_TIMEOUT"] = "45s"
		}, []string{"deploy: CALL_TIMEOUT=45s is not below the server's default route timeout 30s (func.yaml sets no timeout): lower CALL_TIMEOUT in deploy.env or raise timeout in func.yaml"}},
		{"CALL_TIMEOUT not a duration", func(tg *deploy.Target) { tg.Config["CALL_TIMEOUT"] = "ten" },
			[]string{`deploy: CALL_TIMEOUT="ten": want a Go duration such as 10s: fix it in deploy.env`}},
		{"two bad settings", func(tg *deploy.Target) { tg.Config["THUMB_CACHE"] = "maybe"; tg.Config["JPEG_QUALITY"] = "0" }, []string{
			`deploy: THUMB_CACHE="maybe": want on or off: fix it in deploy.env`,
			`deploy: JPEG_QUALITY="0": want a positive integer: fix it in deploy.env`,
		}},
		{"app name with capitals", func(tg *deploy.Target) { tg.App = "Iron_Thumbs" },
			[]string{`deploy: APP="Iron_Thumbs": an app name is lowercase letters, digits, _ and -, at most 30 characters: change APP in deploy.env`}},
		{"app name too long", func(tg *deploy.Target) { tg.App = strings.Repeat("a", 31) },
			[]string{`deploy: APP="` + strings.Repeat("a", 31) + `": an app name is lowercase letters, digits, _ and -, at most 30 characters: change APP in deploy.env`}},
		{"no secret key", func(tg *deploy.Target) { delete(tg.Config, "S3_SECRET_KEY") },
			[]string{"deploy: S3_SECRET_KEY not set: set S3_SECRET_KEY in deploy.env (and S3_ENDPOINT, unless the store is AWS S3)"}},
		{"no keys", func(tg *deploy.Target) { delete(tg.Config, "S3_SECRET_KEY"); delete(tg.Config, "S3_ACCESS_KEY") },
			[]string{"deploy: S3_ACCESS_KEY and S3_SECRET_KEY not set: set S3_ACCESS_KEY and S3_SECRET_KEY in deploy.env (and S3_ENDPOINT, unless the store is AWS S3)"}},
		{"endpoint without a scheme", func(tg *deploy.Target) { tg.Config["S3_ENDPOINT"] = "minio:9000" },
			[]string{`deploy: S3_ENDPOINT="minio:9000": want a URL starting with http:// or https://: fix it in deploy.env`}},
		{"not a setting", func(tg *deploy.Target) { tg.Config["NOT_OURS"] = "x" },
			[]string{"deploy: NOT_OURS is not a setting of the function: remove it from deploy.env"}},
		{"CALL_TIMEOUT from the environment", func(tg *deploy.Target) {
			tg.Config["CALL_TIMEOUT"] = "40s"
			tg.Where = func(name string) string {
				if name == "CALL_TIMEOUT" {
					return "the environment"
				}
				return "deploy.env"
			}
		}, []string{"deploy: CALL_TIMEOUT=40s is not below func.yaml's timeout 30s: lower CALL_TIMEOUT in the environment or raise timeout in func.yaml"}},
		{"every problem at once", func(tg *deploy.Target) { tg.App = "a b"; tg.Config["CALL_TIMEOUT"] = "1m" }, []string{
			`deploy: APP="a b": an app name is lowercase letters, digits, _ and -, at most 30 characters: change APP in deploy.env`,
			"deploy: CALL_TIMEOUT=1m0s is not below func.yaml's timeout 30s: lower CALL_TIMEOUT in deploy.env or raise timeout in func.yaml",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := target(t, func(tg *deploy.Target) {
				tg.Where = fromFile
				if c.edit != nil {
					c.edit(tg)
				}
			})
			err := tg.Check()
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("Check = %v", err)
				}
				return
			}
			if err == nil || err.Error() != strings.Join(c.want, "\n") {
				t.Fatalf("Check =\n%v\nwant\n%s", err, strings.Join(c.want, "\n"))
			}
			// Apply refuses it before a request.
			srv := ironapitest.New()
			defer srv.Close()
			cl, _ := ironapi.New(srv.URL)
			if _, err := deploy.Apply(context.Background(), cl, tg, deploy.Options{}); err == nil || len(srv.Requests()) != 0 {
				t.Errorf("Apply = %v after %d requests; want a refusal and none", err, len(srv.Requests()))
			}
		})
	}
}

// s3Target is the target with S3 settings reaching o.
func s3Target(t *testing.T, o s3store.Options, edit func(map[string]string)) deploy.Target {
	tg := target(t, nil)
	tg.Where = fromFile
	tg.Config["S3_ENDPOINT"], tg.Config["S3_ACCESS_KEY"], tg.Config["S3_SECRET_KEY"] = o.Endpoint, o.AccessKey, o.SecretKey
	tg.Config["IMAGE_BUCKET"], tg.Config["THUMB_BUCKET"] = "images", "thumbs"
	if edit != nil {
		edit(tg.Config)
	}
	return tg
}

func preflight(t *testing.T, apiURL string, tg deploy.Target, dry bool) (string, error) {
	t.Helper()
	c, err := ironapi.New(apiURL)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = deploy.Preflight(context.Background(), c, tg, deploy.Options{DryRun: dry, Out: &out})
	for _, secret := range []string{tg.Config["S3_SECRET_KEY"], tg.Config["S3_ACCESS_KEY"]} {
		if strings.Contains(out.String(), secret) || err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("a secret was printed:\n%s%v", out.String(), err)
		}
	}
	return out.String(), err
}

// TestPreflightServer: the server at API_URL is asked who it is first,
// and anything but IronFunctions stops the deploy with what answered.
func TestPreflightServer(t *testing.T) {
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	var htmlRequests []string
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		htmlRequests = append(htmlRequests, r.Method+" "+r.URL.Path)
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body>It works!</body></html>\n")
	}))
	defer html.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	cases := []struct {
		name, url, want string
	}{
		{"404 to everything", notFound.URL, "deploy: API_URL=" + notFound.URL + ` is not an IronFunctions server: GET /version answered 404 text/plain "404 page not found"`},
		{"an HTML page", html.URL, "deploy: API_URL=" + html.URL + ` is not an IronFunctions server: GET /version answered 200 text/html "<html><body>It works!</body></html>"`},
		{"nothing listening", closed.URL, "deploy: API_URL=" + closed.URL + ": no answer (dial tcp " + strings.TrimPrefix(closed.URL, "http://") +
			": connect: connection refused): is the IronFunctions server running, and is API_URL right? (set it in deploy.env)"},
	}
	o := s3store.Options{Endpoint: "http://127.0.0.1:1", AccessKey: "ak", SecretKey: "sk"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := preflight(t, c.url, s3Target(t, o, nil), true)
			if err == nil || err.Error() != c.want {
				t.Errorf("Preflight = %v\nwant %s", err, c.want)
			}
			if strings.Contains(out, "S3") {
				t.Errorf("S3 was checked after the server check failed:\n%s", out)
			}
		})
	}
	if len(htmlRequests) != 1 || htmlRequests[0] != "GET /version" {
		t.Errorf("the HTML server got %q, want one GET /version", htmlRequests)
	}
	srv := ironapitest.New()
	defer srv.Close()
	out, err := preflight(t, srv.URL, s3Target(t, o, nil), false)
	if err != nil || !strings.HasPrefix(out, "IronFunctions 0.2.72 at "+srv.URL+"\n") {
		t.Errorf("against IronFunctions: %v\n%s", err, out)
	}
	if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].Path != "/version" {
		t.Errorf("Preflight sent %v, want GET /version alone", reqs)
	}
}

// TestPreflightStorage checks the S3 settings against a real S3 server:
// what stops the deploy, naming the setting, and what is only a warning.
func TestPreflightStorage(t *testing.T) {
	s3srv, reader := s3test.StartWithReader(t, "images", "thumbs")
	if err := s3srv.CreateBucket("private"); err != nil { // no policy: the reader may not even list it
		t.Fatal(err)
	}
	proxy, err := faultproxy.New(s3srv.Endpoint) // to count the requests
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	owner := s3srv.Options()
	owner.Endpoint = proxy.URL
	reader.Endpoint = proxy.URL
	at := "at " + proxy.URL
	wrongSecret := owner
	wrongSecret.SecretKey = "wrong-secret"
	refused := owner
	refused.Endpoint = "http://127.0.0.1:1"
	cases := []struct {
		name  string
		o     s3store.Options
		edit  func(map[string]string)
		dry   bool
		fails string   // the error; "" when the deploy may go on
		says  []string // in the output
	}{
		{"all good", owner, nil, false, "", []string{
			"S3 " + at + ": IMAGE_BUCKET=images found", "S3 " + at + ": THUMB_BUCKET=thumbs found",
			"S3 " + at + ": THUMB_BUCKET=thumbs takes writes (put and deleted " + s3store.CheckPrefix}},
		{"dry run", owner, nil, true, "", []string{"THUMB_BUCKET=thumbs found", "THUMB_BUCKET=thumbs not written to in a dry run"}},
		{"wrong secret", wrongSecret, nil, false,
			"deploy: S3_ACCESS_KEY/S3_SECRET_KEY: refused by " + proxy.URL + ": SignatureDoesNotMatch: fix them in deploy.env", nil},
		{"wrong secret, dry run", wrongSecret, nil, true,
			"deploy: S3_ACCESS_KEY/S3_SECRET_KEY: refused by " + proxy.URL + ": SignatureDoesNotMatch: fix them in deploy.env", nil},
		{"wrong region", owner, func(c map[string]string) { c["S3_REGION"] = "eu-west-1" }, true,
			"deploy: S3_REGION=eu-west-1: refused by " + proxy.URL + ": AuthorizationHeaderMalformed: fix it in deploy.env", nil},
		{"no images bucket", owner, func(c map[string]string) { c["IMAGE_BUCKET"] = "imagez" }, true,
			"deploy: IMAGE_BUCKET=imagez: no such bucket " + at + ": create it, or fix IMAGE_BUCKET in deploy.env", nil},
		{"no thumbs bucket", owner, func(c map[string]string) { c["THUMB_BUCKET"] = "thumbz" }, false,
			"deploy: THUMB_BUCKET=thumbz: no such bucket " + at + ": create it, or fix THUMB_BUCKET in deploy.env",
			[]string{"IMAGE_BUCKET=images found"}},
		{"no thumbs bucket, cache off", owner, func(c map[string]string) { c["THUMB_BUCKET"] = "thumbz"; c["THUMB_CACHE"] = "off" }, false, "",
			[]string{"THUMB_BUCKET=thumbz not checked: with THUMB_CACHE=off the function does not use it"}},
		{"read-only user", reader, nil, false,
			"deploy: THUMB_BUCKET=thumbs: S3_ACCESS_KEY may not write to it " + at + " (AccessDenied): grant it s3:PutObject on thumbs, or set THUMB_CACHE=off in deploy.env",
			[]string{"THUMB_BUCKET=thumbs found"}},
		{"read-only user, dry run", reader, nil, true, "", []string{"THUMB_BUCKET=thumbs found", "not written to in a dry run"}},
		{"no right to list the originals", reader, func(c map[string]string) { c["IMAGE_BUCKET"] = "private" }, true, "",
			[]string{"WARNING: IMAGE_BUCKET=private: S3_ACCESS_KEY may not list it " + at + " (AccessDenied), so whether it exists is not checked"}},
		{"endpoint refuses connections", refused, nil, false, "",
			[]string{"WARNING: S3_ENDPOINT=http://127.0.0.1:1 cannot be reached from here (dial tcp 127.0.0.1:1: connect: connection refused): the S3 settings are not checked"}},
		{"endpoint name unknown here", owner, func(c map[string]string) { c["S3_ENDPOINT"] = "http://minio.invalid:9000" }, false, "",
			[]string{"WARNING: S3_ENDPOINT=http://minio.invalid:9000 cannot be reached from here (dial tcp: lookup minio.invalid", "the function must reach it from where IronFunctions runs it"}},
	}
	api := ironapitest.New()
	defer api.Close()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			puts, deletes := proxy.Count("PUT", "/"), proxy.Count("DELETE", "/")
			out, err := preflight(t, api.URL, s3Target(t, c.o, c.edit), c.dry)
			switch {
			case c.fails == "" && err != nil:
				t.Fatalf("Preflight = %v\n%s", err, out)
			case c.fails != "" && (err == nil || err.Error() != c.fails):
				t.Fatalf("Preflight = %v\nwant %s\n%s", err, c.fails, out)
			}
			for _, s := range c.says {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			if i, j := strings.Index(out, "IronFunctions 0.2.72"), strings.Index(out, "S3"); i != 0 || (j >= 0 && j < i) {
				t.Errorf("the server check is not first:\n%s", out)
			}
			if c.dry && (proxy.Count("PUT", "/") != puts || proxy.Count("DELETE", "/") != deletes) {
				t.Errorf("a dry run wrote to S3")
			}
		})
	}
	if n := len(api.Mutations()); n != 0 {
		t.Errorf("the checks sent %d mutating API requests", n)
	}
	if keys, err := s3store.New(s3srv.Client(), "thumbs").List(context.Background(), ""); err != nil || len(keys) != 0 {
		t.Errorf("thumbs holds %q (%v) after the checks, want nothing", keys, err)
	}
}

// TestHotRouteWarning: creating or updating a hot route says that only
// GET and POST may reach it; a cold route, or nothing to change, does not.
func TestHotRouteWarning(t *testing.T) {
	warning := []string{
		"WARNING: route iron_thumbs/thumbs is hot (format: http). One HEAD, PUT, DELETE, OPTIONS or PATCH request\n",
		"  to /r/iron_thumbs/thumbs crashes IronFunctions 0.2.72: every app and route on the server is down until\n",
		"  it is restarted. Let only GET and POST reach /r/... (a reverse proxy or CDN rule in front\n",
		"  of the server); see the README's \"Hot routes\" section.\n",
	}
	srv := ironapitest.New()
	defer srv.Close()
	steps := []struct {
		name string
		edit func(*deploy.Target)
		dry  bool
		warn bool
	}{
		{"dry run of a create", nil, true, true},
		{"create", nil, false, true},
		{"up to date", nil, false, false},
		{"update", func(tg *deploy.Target) { tg.Func.Version = "0.2.0" }, false, true},
		{"turned cold", func(tg *deploy.Target) { tg.Func.Version = "0.2.0"; tg.Func.Format = "default" }, false, false},
		{"cold, updated", func(tg *deploy.Target) { tg.Func.Version = "0.3.0"; tg.Func.Format = "default" }, false, false},
		{"turned hot again", func(tg *deploy.Target) { tg.Func.Version = "0.3.0" }, false, true},
	}
	for _, s := range steps {
		_, out := apply(t, srv, target(t, s.edit), s.dry)
		if s.warn && s.dry && !strings.HasSuffix(out, strings.Join(warning, "")) {
			t.Errorf("%s: the warning is not after the request that makes the route:\n%s", s.name, out)
		}
		if got := strings.Contains(out, strings.Join(warning, "")); got != s.warn {
			t.Errorf("%s: warning printed %v, want %v:\n%s", s.name, got, s.warn, out)
		}
	}
}
