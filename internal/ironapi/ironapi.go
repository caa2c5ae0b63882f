// Package ironapi is a small typed client for the IronFunctions management
// API (/v1 apps and routes), as published in its swagger.yml and as the
// 0.2 server behaves.
package ironapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// DefaultURL is where fn and this client look for the API when API_URL is
// not set.
const DefaultURL = "http://localhost:8080"

// DefaultTimeout is the route timeout the server applies when a route is
// created without one.
const DefaultTimeout = 30 * time.Second

// MaxAppName is the longest app name CheckAppName accepts.
const MaxAppName = 30

var appName = regexp.MustCompile(`^[a-z0-9_-]+$`)

// CheckAppName reports a name the server cannot be trusted with: its own
// check is buggy for anything but lowercase letters, digits, _ and -, and
// some of what it lets through fails later with a 500.
func CheckAppName(name string) error {
	if name == "" || len(name) > MaxAppName || !appName.MatchString(name) {
		return fmt.Errorf("ironapi: app name %q: want lowercase letters, digits, _ and -, at most %d characters", name, MaxAppName)
	}
	return nil
}

// App is an application: a name and the config every route inherits.
type App struct {
	Name   string            `json:"name,omitempty"`
	Config map[string]string `json:"config,omitempty"`
}

// Route is a route of an app. In a PATCH, zero values mean "unchanged", a
// config value "" deletes the key, an empty header list deletes the
// header and a non-empty one is appended to the values already there.
type Route struct {
	Path           string              `json:"path,omitempty"`
	Image          string              `json:"image,omitempty"`
	Memory         uint64              `json:"memory,omitempty"`
	Type           string              `json:"type,omitempty"`
	Format         string              `json:"format,omitempty"`
	MaxConcurrency int                 `json:"max_concurrency,omitempty"`
	Timeout        int                 `json:"timeout,omitempty"`      // seconds
	IdleTimeout    int                 `json:"idle_timeout,omitempty"` // seconds
	Headers        map[string][]string `json:"headers,omitempty"`
	Config         map[string]string   `json:"config,omitempty"`
	JWTKey         string              `json:"jwt_key,omitempty"`
}

// Check reports what the server would accept but not survive: a hot route
// (format http) with idle_timeout 0 cancels its container at once, and the
// server's dispatch loop then blocks every call of the whole server.
func (r Route) Check() error {
	if r.Format == "http" && r.IdleTimeout < 1 {
		return errors.New("a hot route (format: http) needs idle_timeout of at least 1s: 0 wedges the IronFunctions server")
	}
	return nil
}

// Merge returns the route r becomes when patch is sent as a PATCH: zero
// values leave a field unchanged, config "" deletes a key, an empty header
// list deletes the header and a non-empty one is appended.
func (r Route) Merge(patch Route) Route {
	out := r
	if patch.Image != "" {
		out.Image = patch.Image
	}
	if patch.Memory != 0 {
		out.Memory = patch.Memory
	}
	if patch.Type != "" {
		out.Type = patch.Type
	}
	if patch.Format != "" {
		out.Format = patch.Format
	}
	if patch.MaxConcurrency != 0 {
		out.MaxConcurrency = patch.MaxConcurrency
	}
	if patch.Timeout != 0 {
		out.Timeout = patch.Timeout
	}
	if patch.IdleTimeout != 0 {
		out.IdleTimeout = patch.IdleTimeout
	}
	if patch.JWTKey != "" {
		out.JWTKey = patch.JWTKey
	}
	if patch.Config != nil {
		out.Config = maps.Clone(r.Config)
		if out.Config == nil {
			out.Config = map[string]string{}
		}
		for k, v := range patch.Config {
			if v == "" {
				delete(out.Config, k)
			} else {
				out.Config[k] = v
			}
		}
	}
	if patch.Headers != nil {
		out.Headers = map[string][]string{}
		for k, v := range r.Headers {
			out.Headers[k] = slices.Clone(v)
		}
		for k, v := range patch.Headers {
			if len(v) == 0 {
				delete(out.Headers, k)
			} else {
				out.Headers[k] = append(out.Headers[k], v...)
			}
		}
	}
	return out
}

// Error is an answer of the API other than success, with the server's
// message.
type Error struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *Error) Error() string {
	return fmt.Sprintf("ironapi: %s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

// AnswerError is an answer that is not the API's: whatever answered the
// request, described by its status, content type and first bytes.
type AnswerError struct {
	Method, Path string
	Status       int
	// ContentType is the media type, without parameters; "" when none.
	ContentType string
	// Body is the start of the body, at most 64 bytes.
	Body []byte
	cut  bool // the body went on
}

func (e *AnswerError) Error() string {
	return fmt.Sprintf("ironapi: %s %s answered %s", e.Method, e.Path, e.Answer())
}

// Answer describes what answered: `404 text/plain "404 page not found"`.
func (e *AnswerError) Answer() string {
	ct := e.ContentType
	if ct == "" {
		ct = "without content type"
	}
	body := strings.TrimSpace(string(e.Body))
	if body == "" {
		return fmt.Sprintf("%d %s and an empty body", e.Status, ct)
	}
	more := ""
	if e.cut {
		more = "..."
	}
	return fmt.Sprintf("%d %s %q%s", e.Status, ct, body, more)
}

// IsStatus reports whether err is an API error with the status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// Client talks to one API server.
type Client struct {
	base string
	http *http.Client
}

// New returns a client for the API at apiURL (API_URL; DefaultURL when
// empty).
func New(apiURL string) (*Client, error) {
	if apiURL == "" {
		apiURL = DefaultURL
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ironapi: API_URL %q: want http://host:port", apiURL)
	}
	return &Client{base: strings.TrimRight(apiURL, "/"), http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// URL returns the API's base URL.
func (c *Client) URL() string { return c.base }

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("ironapi: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("ironapi: %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		e := &Error{Method: method, Path: path, Status: resp.StatusCode}
		var wrapped struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &wrapped) == nil && wrapped.Error.Message != "" {
			e.Message = wrapped.Error.Message
		} else {
			e.Message = strings.TrimSpace(string(b))
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("ironapi: %s %s: decoding answer: %w", method, path, err)
		}
	}
	return nil
}

// Version returns the server's version from GET /version, which the 0.2
// server serves beside /v1, not under it as swagger.yml says. Anything
// but IronFunctions' {"version":"..."} with a 200 is an *AnswerError; no
// answer at all is the transport's error (a *url.Error inside).
func (c *Client) Version(ctx context.Context) (string, error) {
	const path = "/version"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("ironapi: GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return "", fmt.Errorf("ironapi: GET %s: %w", path, err)
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var out struct {
		Version string `json:"version"`
	}
	if resp.StatusCode == http.StatusOK && ct == "application/json" && json.Unmarshal(b, &out) == nil && out.Version != "" {
		return out.Version, nil
	}
	e := &AnswerError{Method: http.MethodGet, Path: path, Status: resp.StatusCode, ContentType: ct, Body: b}
	if len(e.Body) > 64 {
		e.Body, e.cut = e.Body[:64], true
	}
	return "", e
}

func appPath(app string) string { return "/v1/apps/" + url.PathEscape(app) }

// routePath keeps the route's leading slash: /v1/apps/APP/routes/thumbs.
func routePath(app, route string) string {
	return appPath(app) + "/routes/" + strings.TrimPrefix(route, "/")
}

// ListApps returns every app.
func (c *Client) ListApps(ctx context.Context) ([]App, error) {
	var out struct {
		Apps []App `json:"apps"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/apps", nil, &out)
	return out.Apps, err
}

// GetApp returns one app; a missing app is an *Error with status 404.
func (c *Client) GetApp(ctx context.Context, name string) (*App, error) {
	var out struct {
		App App `json:"app"`
	}
	if err := c.do(ctx, http.MethodGet, appPath(name), nil, &out); err != nil {
		return nil, err
	}
	return &out.App, nil
}

// CreateApp creates an app; an existing one is an *Error with status 409.
func (c *Client) CreateApp(ctx context.Context, app App) (*App, error) {
	var out struct {
		App App `json:"app"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/apps", map[string]App{"app": app}, &out); err != nil {
		return nil, err
	}
	return &out.App, nil
}

// PatchApp merges config into the app's: a value "" deletes the key.
func (c *Client) PatchApp(ctx context.Context, name string, config map[string]string) (*App, error) {
	var out struct {
		App App `json:"app"`
	}
	in := map[string]App{"app": {Config: config}}
	if err := c.do(ctx, http.MethodPatch, appPath(name), in, &out); err != nil {
		return nil, err
	}
	return &out.App, nil
}

// DeleteApp deletes an app.
func (c *Client) DeleteApp(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, appPath(name), nil, nil)
}

// ListRoutes returns the app's routes.
func (c *Client) ListRoutes(ctx context.Context, app string) ([]Route, error) {
	var out struct {
		Routes []Route `json:"routes"`
	}
	err := c.do(ctx, http.MethodGet, appPath(app)+"/routes", nil, &out)
	return out.Routes, err
}

// GetRoute returns one route; a missing one is an *Error with status 404.
func (c *Client) GetRoute(ctx context.Context, app, path string) (*Route, error) {
	var out struct {
		Route Route `json:"route"`
	}
	if err := c.do(ctx, http.MethodGet, routePath(app, path), nil, &out); err != nil {
		return nil, err
	}
	return &out.Route, nil
}

// CreateRoute creates a route (and the app if missing); an existing route
// is an *Error with status 409.
func (c *Client) CreateRoute(ctx context.Context, app string, r Route) (*Route, error) {
	var out struct {
		Route Route `json:"route"`
	}
	if err := c.do(ctx, http.MethodPost, appPath(app)+"/routes", map[string]Route{"route": r}, &out); err != nil {
		return nil, err
	}
	return &out.Route, nil
}

// PatchRoute updates a route with the server's merge rules (see Route).
// r.Path must be empty: a route's path cannot change.
func (c *Client) PatchRoute(ctx context.Context, app, path string, r Route) (*Route, error) {
	if r.Path != "" {
		return nil, errors.New("ironapi: PatchRoute: a route's path cannot change")
	}
	var out struct {
		Route Route `json:"route"`
	}
	if err := c.do(ctx, http.MethodPatch, routePath(app, path), map[string]Route{"route": r}, &out); err != nil {
		return nil, err
	}
	return &out.Route, nil
}

// DeleteRoute deletes a route.
func (c *Client) DeleteRoute(ctx context.Context, app, path string) error {
	return c.do(ctx, http.MethodDelete, routePath(app, path), nil, nil)
}
