package ironapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/iron-thumbs/iron_thumbs/internal/ironapi"
	"github.com/iron-thumbs/iron_thumbs/internal/ironapi/ironapitest"
)

func TestClient(t *testing.T) {
	srv := ironapitest.New()
	defer srv.Close()
	c, err := ironapi.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.GetApp(ctx, "nope"); !ironapi.IsStatus(err, 404) {
		t.Errorf("GetApp(missing) = %v, want 404", err)
	}
	if _, err := c.CreateApp(ctx, ironapi.App{Name: "app_1", Config: map[string]string{"A": "1", "B": "2"}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateApp(ctx, ironapi.App{Name: "app_1"})
	var apiErr *ironapi.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 409 || apiErr.Message != "App already exists" {
		t.Errorf("second CreateApp = %v, want 409 with the server's message", err)
	}
	app, err := c.PatchApp(ctx, "app_1", map[string]string{"A": "", "C": "3"})
	if err != nil || app.Config["A"] != "" || app.Config["B"] != "2" || app.Config["C"] != "3" {
		t.Errorf("PatchApp = %+v, %v", app, err)
	}
	r := ironapi.Route{Path: "/thumbs", Image: "img:1", Format: "http", Timeout: 30, IdleTimeout: 30,
		Headers: map[string][]string{"Cache-Control": {"max-age=1"}}}
	if _, err := c.CreateRoute(ctx, "app_1", r); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRoute(ctx, "app_1", r); !ironapi.IsStatus(err, 409) {
		t.Errorf("second CreateRoute = %v, want 409", err)
	}
	for _, p := range []string{"/thumbs", "thumbs"} {
		got, err := c.GetRoute(ctx, "app_1", p)
		if err != nil || got.Image != "img:1" || got.Timeout != 30 {
			t.Errorf("GetRoute(%q) = %+v, %v", p, got, err)
		}
	}
	// Headers: a list is appended, an empty list deletes.
	got, _ := c.PatchRoute(ctx, "app_1", "/thumbs", ironapi.Route{Headers: map[string][]string{"Cache-Control": {"max-age=2"}}})
	if len(got.Headers["Cache-Control"]) != 2 {
		t.Errorf("after an append: %q", got.Headers["Cache-Control"])
	}
	got, _ = c.PatchRoute(ctx, "app_1", "/thumbs", ironapi.Route{Headers: map[string][]string{"Cache-Control": {}}})
	if _, ok := got.Headers["Cache-Control"]; ok {
		t.Errorf("after a delete: %q", got.Headers)
	}
	if _, err := c.PatchRoute(ctx, "app_1", "/thumbs", ironapi.Route{Path: "/other"}); err == nil {
		t.Error("PatchRoute changed a path")
	}
	if _, err := c.CreateRoute(ctx, "app_1", ironapi.Route{Path: "/j", Image: "i", Format: "json"}); !ironapi.IsStatus(err, 400) {
		t.Errorf("format json = %v, want 400", err)
	}
	routes, err := c.ListRoutes(ctx, "app_1")
	if err != nil || len(routes) != 1 {
		t.Errorf("ListRoutes = %v, %v", routes, err)
	}
	if err := c.DeleteRoute(ctx, "app_1", "/thumbs"); err != nil {
		t.Error(err)
	}
	if err := c.DeleteApp(ctx, "app_1"); err != nil {
		t.Error(err)
	}
	apps, err := c.ListApps(ctx)
	if err != nil || len(apps) != 0 {
		t.Errorf("ListApps = %v, %v", apps, err)
	}
	if _, err := ironapi.New("localhost:8080"); err == nil || !strings.Contains(err.Error(), "API_URL") {
		t.Errorf("New without scheme = %v", err)
	}
}

// TestTimeoutsAreIntegers: the server refuses "30s"; the client sends
// seconds.
func TestTimeoutsAreIntegers(t *testing.T) {
	srv := ironapitest.New()
	defer srv.Close()
	c, _ := ironapi.New(srv.URL)
	if _, err := c.CreateRoute(context.Background(), "a", ironapi.Route{Path: "/p", Image: "i", Timeout: 30, IdleTimeout: 30}); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if body := reqs[len(reqs)-1].Body; !strings.Contains(body, `"timeout":30`) || !strings.Contains(body, `"idle_timeout":30`) {
		t.Errorf("request body %s", body)
	}
}

// TestMerge pins the server's PATCH rules (CONTRACT.md): zero values
// unchanged, config "" deletes, an empty header list deletes, a non-empty
// one is appended.
func TestMerge(t *testing.T) {
	cur := ironapi.Route{Path: "/thumbs", Image: "a:1", Format: "http", Timeout: 30, IdleTimeout: 30, Memory: 128,
		Config:  map[string]string{"A": "1", "B": "2"},
		Headers: map[string][]string{"Cache-Control": {"max-age=1"}, "X-Old": {"y"}}}
	got := cur.Merge(ironapi.Route{Image: "a:2", Timeout: 0, Config: map[string]string{"A": "", "C": "3"},
		Headers: map[string][]string{"Cache-Control": {"max-age=2"}, "X-Old": {}}})
	want := ironapi.Route{Path: "/thumbs", Image: "a:2", Format: "http", Timeout: 30, IdleTimeout: 30, Memory: 128,
		Config:  map[string]string{"B": "2", "C": "3"},
		Headers: map[string][]string{"Cache-Control": {"max-age=1", "max-age=2"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Merge =\n%+v\nwant\n%+v", got, want)
	}
	if cur.Config["A"] != "1" || len(cur.Headers["Cache-Control"]) != 1 {
		t.Error("Merge changed the route it was called on")
	}
	if err := (ironapi.Route{Format: "http"}).Check(); err == nil {
		t.Error("a hot route without idle_timeout passed Check")
	}
	if err := (ironapi.Route{Format: "default"}).Check(); err != nil {
		t.Error(err)
	}
}

func TestVersion(t *testing.T) {
	srv := ironapitest.New()
	defer srv.Close()
	c, _ := ironapi.New(srv.URL)
	if v, err := c.Version(context.Background()); err != nil || v != "0.2.72" {
		t.Errorf("Version = %q, %v; want 0.2.72", v, err)
	}
	if n := len(srv.Mutations()); n != 0 {
		t.Errorf("Version sent %d mutating requests", n)
	}
}

// TestVersionOfSomethingElse: whatever answers GET /version without
// IronFunctions' JSON is described, not taken for a server.
func TestVersionOfSomethingElse(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"plain 404", http.NotFound, `404 text/plain "404 page not found"`},
		{"HTML page", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, "<!doctype html><title>Welcome to nginx!</title>"+strings.Repeat(" pad", 40))
		}, `200 text/html "<!doctype html><title>Welcome to nginx!</title> pad pad pad pad"...`},
		{"JSON without a version", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"status":"ok"}`)
		}, `200 application/json "{\"status\":\"ok\"}"`},
		{"empty 204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, "204 without content type and an empty body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.handler)
			defer srv.Close()
			cl, _ := ironapi.New(srv.URL)
			v, err := cl.Version(context.Background())
			var ae *ironapi.AnswerError
			if !errors.As(err, &ae) || ae.Answer() != c.want {
				t.Fatalf("Version = %q, %v; want an AnswerError saying %s", v, err, c.want)
			}
			if !strings.Contains(err.Error(), "GET /version answered "+c.want) {
				t.Errorf("error %q", err)
			}
		})
	}
}

func TestVersionUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	c, _ := ironapi.New(srv.URL)
	_, err := c.Version(context.Background())
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Errorf("Version of a closed port = %v, want a transport error", err)
	}
}

func TestCheckAppName(t *testing.T) {
	for name, ok := range map[string]bool{
		"iron_thumbs": true, "a": true, "thumbs-2": true, strings.Repeat("a", 30): true,
		"": false, strings.Repeat("a", 31): false, "Iron_Thumbs": false, "iron thumbs": false, "iron.thumbs": false, "é": false,
	} {
		if err := ironapi.CheckAppName(name); (err == nil) != ok {
			t.Errorf("CheckAppName(%q) = %v", name, err)
		}
	}
}
