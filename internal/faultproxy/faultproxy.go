// Package faultproxy sits between the function and a real S3 server on
// loopback and injects faults on request: delays, error statuses for the
// first N matching requests, refused writes. Tests use it to see the
// function meet an S3 server that misbehaves.
package faultproxy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rule is one fault: requests matching Method (any when empty) and a path
// containing PathContains get Delay, then, while Times > 0 (or always when
// Times < 0), the fault: Status instead of the server's answer, the
// connection dropped without an answer (Drop), or the server's answer cut
// to its first Truncate bytes with a Content-Length that says so.
type Rule struct {
	Method       string
	PathContains string
	Delay        time.Duration
	Status       int
	Drop         bool
	Truncate     int
	Times        int
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	*httptest.Server
	mu    sync.Mutex
	rules []*Rule
	seen  []string // "METHOD path" of every request
}

// New starts a proxy to the S3 server at target.
func New(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &Proxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.URL.Path)
		var hit *Rule
		for _, rule := range p.rules {
			if (rule.Method == "" || rule.Method == r.Method) && strings.Contains(r.URL.Path, rule.PathContains) {
				hit = rule
				break
			}
		}
		var status, truncate int
		var drop bool
		var delay time.Duration
		if hit != nil {
			delay = hit.Delay
			if hit.Times != 0 && (hit.Status != 0 || hit.Drop || hit.Truncate > 0) {
				status, drop, truncate = hit.Status, hit.Drop, hit.Truncate
				if hit.Times > 0 {
					hit.Times--
				}
			}
		}
		p.mu.Unlock()
		// Read the body first: the server notices a client that went away
		// only once the body is read.
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if drop {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		if truncate > 0 {
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			body = body[:min(truncate, len(body))]
			for k, vs := range rec.Header() {
				w.Header()[k] = vs
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(rec.Code)
			w.Write(body)
			return
		}
		if status != 0 {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			code := map[int]string{403: "AccessDenied", 500: "InternalError", 503: "SlowDown"}[status]
			w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>injected</Message></Error>`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	return p, nil
}

// Add adds a rule; the first matching rule applies.
func (p *Proxy) Add(r Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &r)
}

// Count returns how many requests had the method and a path containing s.
func (p *Proxy) Count(method, s string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.seen {
		m, path, _ := strings.Cut(r, " ")
		if m == method && strings.Contains(path, s) {
			n++
		}
	}
	return n
}
