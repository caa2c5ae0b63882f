// Package ironapitest is an in-process IronFunctions management API that
// behaves as the 0.2.72 server does (shared/ironfunctions/CONTRACT.md):
// 409 on an existing app or route, PATCH merging config with "" deleting a
// key, route headers deleted by an empty list and otherwise appended,
// zero values meaning "unchanged", immutable paths, route names with their
// leading slash, formats default and http only, integer timeouts, the app
// name rule, the error JSON and GET /version (outside /v1).
package ironapitest

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/iron-thumbs/iron_thumbs/internal/ironapi"
)

// Request is one request the server received.
type Request struct {
	Method, Path string
	Body         string
}

// Server is a running API.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	apps     map[string]*ironapi.App
	routes   map[string]map[string]*ironapi.Route // app -> path -> route
	requests []Request
}

// Version is what GET /version answers.
const Version = "0.2.72"

// New starts a server on a loopback port; Close stops it.
func New() *Server {
	s := &Server{apps: map[string]*ironapi.App{}, routes: map[string]map[string]*ironapi.Route{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Mutations returns the requests received so far that could change state.
func (s *Server) Mutations() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet {
			out = append(out, r)
		}
	}
	return out
}

// App returns a copy of an app, or nil.
func (s *Server) App(name string) *ironapi.App {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[name]
	if !ok {
		return nil
	}
	c := *a
	c.Config = maps.Clone(a.Config)
	return &c
}

// Route returns a copy of a route, or nil.
func (s *Server) Route(app, path string) *ironapi.Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.routes[app][path]
	if !ok {
		return nil
	}
	return cloneRoute(r)
}

func cloneRoute(r *ironapi.Route) *ironapi.Route {
	c := *r
	c.Config = maps.Clone(r.Config)
	c.Headers = map[string][]string{}
	for k, v := range r.Headers {
		c.Headers[k] = slices.Clone(v)
	}
	return &c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"message": msg}})
}

// validApp is the rule the server's check gets right.
func validApp(name string) bool { return ironapi.CheckAppName(name) == nil }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if r.Body != nil {
		json.NewDecoder(r.Body).Decode(&raw)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Body: string(raw)})
	if r.URL.Path == "/version" && r.Method == http.MethodGet {
		// gin's c.JSON, as api/server/version.go answers.
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode(map[string]string{"version": Version})
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/apps")
	if !ok {
		fail(w, http.StatusNotFound, "Path not found")
		return
	}
	rest = strings.TrimPrefix(rest, "/")
	if rest == "" {
		switch r.Method {
		case http.MethodGet:
			apps := []ironapi.App{}
			for _, n := range slices.Sorted(maps.Keys(s.apps)) {
				apps = append(apps, *s.apps[n])
			}
			writeJSON(w, 200, map[string]any{"apps": apps})
		case http.MethodPost:
			s.createApp(w, raw)
		default:
			fail(w, http.StatusMethodNotAllowed, "Method not allowed")
		}
		return
	}
	app, routePart, hasRoutes := strings.Cut(rest, "/routes")
	if !hasRoutes {
		s.app(w, r.Method, app, raw)
		return
	}
	if routePart == "" || routePart == "/" {
		switch r.Method {
		case http.MethodGet:
			if _, ok := s.apps[app]; !ok {
				fail(w, 404, "App not found")
				return
			}
			routes := []ironapi.Route{}
			for _, p := range slices.Sorted(maps.Keys(s.routes[app])) {
				routes = append(routes, *s.routes[app][p])
			}
			writeJSON(w, 200, map[string]any{"routes": routes})
		case http.MethodPost:
			s.createRoute(w, app, raw)
		default:
			fail(w, http.StatusMethodNotAllowed, "Method not allowed")
		}
		return
	}
	// "/routes/thumbs" and "/routes//thumbs" both name "/thumbs".
	path := "/" + strings.TrimLeft(routePart, "/")
	s.route(w, r.Method, app, path, raw)
}

func (s *Server) createApp(w http.ResponseWriter, raw json.RawMessage) {
	var in struct {
		App *ironapi.App `json:"app"`
	}
	if json.Unmarshal(raw, &in) != nil || in.App == nil {
		fail(w, 400, "Invalid JSON")
		return
	}
	if !validApp(in.App.Name) {
		// The server's own check fails this way for such names.
		fail(w, 500, "Internal Server Error")
		return
	}
	if _, ok := s.apps[in.App.Name]; ok {
		fail(w, 409, "App already exists")
		return
	}
	a := &ironapi.App{Name: in.App.Name, Config: map[string]string{}}
	mergeConfig(a.Config, in.App.Config)
	s.apps[a.Name] = a
	writeJSON(w, 200, map[string]any{"message": "App successfully created", "app": a})
}

func mergeConfig(dst, src map[string]string) {
	for k, v := range src {
		if v == "" {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
}

func (s *Server) app(w http.ResponseWriter, method, name string, raw json.RawMessage) {
	a, ok := s.apps[name]
	if !ok {
		fail(w, 404, "App not found")
		return
	}
	switch method {
	case http.MethodGet:
		writeJSON(w, 200, map[string]any{"app": a})
	case http.MethodPatch:
		var in struct {
			App *ironapi.App `json:"app"`
		}
		if json.Unmarshal(raw, &in) != nil || in.App == nil {
			fail(w, 400, "Invalid JSON")
			return
		}
		if in.App.Name != "" && in.App.Name != name {
			fail(w, 400, "Cannot change app name")
			return
		}
		mergeConfig(a.Config, in.App.Config)
		writeJSON(w, 200, map[string]any{"message": "App successfully updated", "app": a})
	case http.MethodDelete:
		if len(s.routes[name]) > 0 {
			fail(w, 400, "Cannot remove apps with routes")
			return
		}
		delete(s.apps, name)
		writeJSON(w, 200, map[string]any{"message": "App deleted"})
	default:
		fail(w, http.StatusMethodNotAllowed, "Method not allowed")
	}
}

// decodeRoute reads {"route":{...}} strictly: "30s" for a timeout is
// invalid JSON to the server, which answers 400 "Invalid JSON".
func decodeRoute(raw json.RawMessage) (*ironapi.Route, bool) {
	var in struct {
		Route *ironapi.Route `json:"route"`
	}
	if err := json.Unmarshal(raw, &in); err != nil || in.Route == nil {
		return nil, false
	}
	return in.Route, true
}

func validFormat(f string) bool { return f == "" || f == "default" || f == "http" }

func (s *Server) createRoute(w http.ResponseWriter, app string, raw json.RawMessage) {
	in, ok := decodeRoute(raw)
	if !ok {
		fail(w, 400, "Invalid JSON")
		return
	}
	switch {
	case in.Path == "" || !strings.HasPrefix(in.Path, "/"):
		fail(w, 400, "Invalid route path format")
		return
	case strings.Contains(in.Path, ":"):
		fail(w, 400, "Invalid route path format")
		return
	case in.Image == "":
		fail(w, 400, "Missing route Image")
		return
	case !validFormat(in.Format):
		fail(w, 400, "Invalid route Format")
		return
	case in.Type != "" && in.Type != "sync" && in.Type != "async":
		fail(w, 400, "Invalid route Type")
		return
	}
	if _, ok := s.apps[app]; !ok {
		if !validApp(app) {
			fail(w, 500, "Internal Server Error")
			return
		}
		s.apps[app] = &ironapi.App{Name: app, Config: map[string]string{}}
	}
	if _, ok := s.routes[app][in.Path]; ok {
		fail(w, 409, "Route already exists")
		return
	}
	r := cloneRoute(in)
	if r.Format == "" {
		r.Format = "default"
	}
	if r.Type == "" {
		r.Type = "sync"
	}
	if r.Memory == 0 {
		r.Memory = 128
	}
	if r.Timeout == 0 {
		r.Timeout = int(ironapi.DefaultTimeout / time.Second)
	}
	if r.MaxConcurrency == 0 {
		r.MaxConcurrency = 1
	}
	// No default for idle_timeout: the server leaves it 0.
	if s.routes[app] == nil {
		s.routes[app] = map[string]*ironapi.Route{}
	}
	s.routes[app][r.Path] = r
	writeJSON(w, 200, map[string]any{"message": "Route successfully created", "route": r})
}

func (s *Server) route(w http.ResponseWriter, method, app, path string, raw json.RawMessage) {
	if _, ok := s.apps[app]; !ok {
		fail(w, 404, "App not found")
		return
	}
	r, ok := s.routes[app][path]
	if !ok {
		fail(w, 404, "Route not found")
		return
	}
	switch method {
	case http.MethodGet:
		writeJSON(w, 200, map[string]any{"route": r})
	case http.MethodDelete:
		delete(s.routes[app], path)
		writeJSON(w, 200, map[string]any{"message": "Route deleted"})
	case http.MethodPatch:
		in, ok := decodeRoute(raw)
		if !ok {
			fail(w, 400, "Invalid JSON")
			return
		}
		if in.Path != "" && in.Path != path {
			fail(w, 400, "Could not update route - path is immutable")
			return
		}
		if !validFormat(in.Format) {
			fail(w, 400, "Invalid route Format")
			return
		}
		// api/models/route.go Update: zero values leave a field alone,
		// config "" deletes, header lists are appended.
		*r = r.Merge(*in)
		writeJSON(w, 200, map[string]any{"message": "Route successfully updated", "route": r})
	default:
		fail(w, http.StatusMethodNotAllowed, "Method not allowed")
	}
}
