// Package ironrunner calls a function binary exactly as the IronFunctions
// server (0.2.72) does, quirks included, so tests and benchmarks fail
// where the server would: the environment it builds, the colon-less
// REQUEST_URL, stdin, exit codes turned into 500s, and the hot format's
// framing with its `GET /` request line, environment sent as canonical
// headers, a fresh buffered reader per response and only the body kept.
//
// See shared/ironfunctions/CONTRACT.md for the behaviour reproduced.
package ironrunner

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Route is a route as the server holds it, plus the binary that stands
// for its image.
type Route struct {
	App  string // e.g. "iron_thumbs"
	Path string // e.g. "/thumbs"
	// Binary and Args run the function (the image's entrypoint).
	Binary string
	Args   []string
	// Format is "default" (cold) or "http" (hot).
	Format string
	// AppConfig and Config are the app's and the route's config; the
	// route's wins.
	AppConfig map[string]string
	Config    map[string]string
	// Headers are the route's headers, sent with every answer.
	Headers map[string][]string
	// Timeout is the route timeout; 30s when zero.
	Timeout time.Duration
	// MaxConcurrency is the number of hot processes; 1 when zero.
	MaxConcurrency int
	// Stderr receives the function's log; discarded when nil.
	Stderr io.Writer
	// MeasureRSS runs cold processes under GNU time (/usr/bin/time) to
	// read their peak memory. The rusage of a child started straight from
	// a large Go process carries the parent's high-water mark (Go starts
	// children with vfork), which overstates it.
	MeasureRSS bool
}

// Call is one client request.
type Call struct {
	Method string // GET when empty
	// Host is what the client addressed, "localhost:8080" when empty.
	Host string
	// URL is the path and query, e.g. /r/iron_thumbs/thumbs?filename=a.png&size=180.
	URL    string
	Header http.Header
	Body   []byte
}

// Result is what the client received, and what the function did.
type Result struct {
	// Status, Header and Body are the client's answer.
	Status int
	Header http.Header
	Body   []byte
	// ExitCode is the cold process's exit code (-1 when killed).
	ExitCode int
	// FnStatus and FnHeader are the hot function's own status and headers,
	// which the server throws away.
	FnStatus int
	FnHeader http.Header
	// MaxRSSKB is the cold process's peak resident memory in KiB.
	MaxRSSKB int64
	// Stdout and Stderr are what a cold process wrote.
	Stdout []byte
	Stderr string
}

func (r *Route) timeout() time.Duration {
	if r.Timeout == 0 {
		return 30 * time.Second
	}
	return r.Timeout
}

// Env returns the environment the server gives the function for call,
// as NAME=value, sorted.
func (r *Route) Env(call Call) []string {
	env := map[string]string{}
	method := call.Method
	if method == "" {
		method = http.MethodGet
	}
	host := call.Host
	if host == "" {
		host = "localhost:8080"
	}
	u, _ := url.Parse(call.URL)
	// The server joins scheme and host without a colon.
	reqURL := "http//" + host + u.Path
	if u.RawQuery != "" {
		reqURL += "?" + u.RawQuery
	}
	env["METHOD"] = method
	env["ROUTE"] = r.Path
	env["REQUEST_URL"] = reqURL
	for _, cfg := range []map[string]string{r.AppConfig, r.Config} {
		for k, v := range cfg {
			env[strings.ReplaceAll(strings.ToUpper(k), "-", "_")] = v
		}
	}
	for k, vs := range call.Header {
		name := "HEADER_" + strings.ReplaceAll(strings.ToUpper(k), "-", "_")
		if name == "HEADER_HOST" {
			continue
		}
		env[name] = strings.Join(vs, " ")
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// stdin returns what the server feeds the function: the body of a POST,
// the payload parameter of a GET, nothing otherwise.
func stdin(call Call) []byte {
	switch call.Method {
	case "", http.MethodGet:
		u, _ := url.Parse(call.URL)
		return []byte(u.Query().Get("payload"))
	case http.MethodPost:
		return call.Body
	}
	return nil
}

func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// answer builds the client's answer the way the server does: route
// headers (first value of each) on every answer, a sniffed Content-Type
// when the route sets none.
func (r *Route) answer(status int, body []byte) Result {
	h := http.Header{}
	for k, vs := range r.Headers {
		if len(vs) > 0 {
			h.Set(k, vs[0])
		}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", http.DetectContentType(body))
	}
	return Result{Status: status, Header: h, Body: body}
}

func errorBody(msg string, withID bool) []byte {
	m := map[string]any{"error": map[string]string{"message": msg}}
	if withID {
		m["request_id"] = newID()
	}
	b, _ := json.Marshal(m)
	return b
}

// RunCold runs one default-format call: a new process with the call's
// environment, stdout kept whole, exit code N answered as a 500.
func (r *Route) RunCold(ctx context.Context, call Call) Result {
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	name, args := r.Binary, r.Args
	var rssFile string
	if r.MeasureRSS {
		f, err := os.CreateTemp("", "ironrunner-rss")
		if err != nil {
			return r.answer(http.StatusInternalServerError, errorBody(err.Error(), true))
		}
		f.Close()
		rssFile = f.Name()
		defer os.Remove(rssFile)
		name, args = "/usr/bin/time", append([]string{"-f", "%M", "-o", rssFile, r.Binary}, r.Args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = time.Second // children holding stdout must not stall the answer
	cmd.Env = r.Env(call)
	cmd.Stdin = bytes.NewReader(stdin(call))
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if r.Stderr != nil {
		cmd.Stderr = io.MultiWriter(&stderr, r.Stderr)
	}
	setProcAttr(cmd)
	err := cmd.Run()
	var res Result
	switch {
	case ctx.Err() != nil:
		res = r.answer(http.StatusGatewayTimeout, errorBody("Timed out", false))
		res.ExitCode = -1
	case err == nil:
		res = r.answer(http.StatusOK, stdout.Bytes())
	default:
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		msg := fmt.Sprintf("exit code %d", code)
		if code == 137 {
			msg = "out of memory error"
		}
		res = r.answer(http.StatusInternalServerError, errorBody(msg, true))
		res.ExitCode = code
	}
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.String()
	if rssFile != "" {
		b, _ := os.ReadFile(rssFile)
		lines := strings.Fields(string(b))
		if len(lines) > 0 {
			res.MaxRSSKB, _ = strconv.ParseInt(lines[len(lines)-1], 10, 64)
		}
	} else if cmd.ProcessState != nil {
		res.MaxRSSKB = maxRSS(cmd.ProcessState)
	}
	return res
}

// Hot is a pool of hot-format processes, at most MaxConcurrency, each
// serving one call at a time, started on demand with the environment of
// the call that started it.
type Hot struct {
	route *Route
	mu    sync.Mutex
	idle  []*proc
	all   []*proc
	slots chan struct{}
}

type proc struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  io.Reader
	done chan struct{}
}

// NewHot returns an empty pool for the route.
func NewHot(r *Route) *Hot {
	n := r.MaxConcurrency
	if n < 1 {
		n = 1
	}
	return &Hot{route: r, slots: make(chan struct{}, n)}
}

func (h *Hot) start(call Call) (*proc, error) {
	cmd := exec.Command(h.route.Binary, h.route.Args...)
	cmd.Env = append(h.route.Env(call), "FN_FORMAT=http")
	cmd.Stderr = h.route.Stderr
	setProcAttr(cmd)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, in: in, out: out, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	h.mu.Lock()
	h.all = append(h.all, p)
	h.mu.Unlock()
	return p, nil
}

// Run serves one call on an idle process, starting one if none is idle
// and the pool is not full; otherwise it waits, as the server queues.
func (h *Hot) Run(ctx context.Context, call Call) Result {
	ctx, cancel := context.WithTimeout(ctx, h.route.timeout())
	defer cancel()
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return h.route.answer(http.StatusInternalServerError, errorBody("Timed out", false))
	}
	defer func() { <-h.slots }()
	h.mu.Lock()
	var p *proc
	for p == nil && len(h.idle) > 0 {
		n := len(h.idle)
		p, h.idle = h.idle[n-1], h.idle[:n-1]
		select {
		case <-p.done: // exited while idle (a signal): start another
			p = nil
		default:
		}
	}
	h.mu.Unlock()
	if p == nil {
		var err error
		if p, err = h.start(call); err != nil {
			return h.route.answer(http.StatusInternalServerError, errorBody(err.Error(), true))
		}
	}
	res, ok := h.exchange(ctx, p, call)
	if !ok {
		// The process broke framing or died: the server gives up on it.
		p.cmd.Process.Kill()
		return res
	}
	h.mu.Lock()
	h.idle = append(h.idle, p)
	h.mu.Unlock()
	return res
}

func (h *Hot) exchange(ctx context.Context, p *proc, call Call) (Result, bool) {
	env := h.route.Env(call)
	body := stdin(call)
	req, _ := http.NewRequest(http.MethodGet, "/", bytes.NewReader(body))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Length", strconv.Itoa(len(body)))
	req.Header.Set("Task-ID", newID())
	raw, err := httputil.DumpRequest(req, true)
	if err != nil {
		return h.route.answer(http.StatusInternalServerError, errorBody(err.Error(), true)), false
	}
	type reply struct {
		res  *http.Response
		body []byte
		err  error
	}
	ch := make(chan reply, 1)
	go func() {
		if _, err := p.in.Write(raw); err != nil {
			ch <- reply{err: err}
			return
		}
		// A fresh reader for every response, as the server does: bytes
		// written after a response are lost.
		res, err := http.ReadResponse(bufio.NewReader(p.out), req)
		if err != nil {
			ch <- reply{err: err}
			return
		}
		b, err := io.ReadAll(res.Body) // without Content-Length: until EOF, i.e. never
		ch <- reply{res: res, body: b, err: err}
	}()
	select {
	case rep := <-ch:
		if rep.err != nil {
			// Wait for the timeout, as the server's client does.
			<-ctx.Done()
			return h.route.answer(http.StatusInternalServerError, errorBody("Timed out", false)), false
		}
		res := h.route.answer(http.StatusOK, rep.body)
		res.FnStatus, res.FnHeader = rep.res.StatusCode, rep.res.Header
		return res, true
	case <-ctx.Done():
		return h.route.answer(http.StatusInternalServerError, errorBody("Timed out", false)), false
	}
}

// kill kills every process of the pool at once, as they die with a
// crashed server.
func (h *Hot) kill() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.all {
		p.cmd.Process.Kill()
	}
	h.idle = nil
}

// Procs returns the pids of the pool's processes that are still running.
func (h *Hot) Procs() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	var pids []int
	for _, p := range h.all {
		select {
		case <-p.done:
		default:
			pids = append(pids, p.cmd.Process.Pid)
		}
	}
	return pids
}

// ExitCode waits up to d for the pool's process pid to exit and returns
// its exit code: -1 when it was killed by a signal or is still running.
func (h *Hot) ExitCode(pid int, d time.Duration) int {
	h.mu.Lock()
	var p *proc
	for _, q := range h.all {
		if q.cmd.Process.Pid == pid {
			p = q
		}
	}
	h.mu.Unlock()
	if p == nil {
		return -1
	}
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		return -1
	}
}

// PeakRSSKB returns the largest peak resident memory (KiB) among the
// pool's running processes, read from /proc (0 where it cannot be read).
func (h *Hot) PeakRSSKB() int64 {
	var peak int64
	for _, pid := range h.Procs() {
		peak = max(peak, PeakRSSKB(pid))
	}
	return peak
}

// Close closes every process's stdin, as the server does when a container
// idles out, and waits for them to exit; after 5s it kills them.
func (h *Hot) Close() error {
	h.mu.Lock()
	all := h.all
	h.all, h.idle = nil, nil
	h.mu.Unlock()
	var errs []error
	for _, p := range all {
		p.in.Close()
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
			errs = append(errs, fmt.Errorf("ironrunner: hot process %d did not exit when stdin closed", p.cmd.Process.Pid))
		}
		if code := p.cmd.ProcessState.ExitCode(); code != 0 && code != -1 {
			errs = append(errs, fmt.Errorf("ironrunner: hot process %d exited %d", p.cmd.Process.Pid, code))
		}
	}
	return errors.Join(errs...)
}

// Server serves /r/{app}{path} over HTTP through its routes, cold or hot
// as their format says, the way an IronFunctions server does, down to its
// worst quirk: any method but GET and POST on a hot route panics the
// 0.2.72 server (the call's input is set only for GET and POST, and the
// hot protocol copies from the nil reader), and its process exits. From
// then on the Server answers nothing on any route, cold ones included:
// every connection is dropped unanswered, as a dead process's would be,
// hot processes are killed, calls in flight are cut off, Crashed reports
// true and Close returns the crash. Cold routes take those methods with
// an empty stdin (HEAD gets headers only).
//
// A dropped answer is a panic with http.ErrAbortHandler, which net/http
// turns into a closed connection; call ServeHTTP through an http.Server.
type Server struct {
	// Route is the server's route; Routes are more routes beside it, all
	// down when the server crashes.
	Route  *Route
	Routes []*Route
	// OnResult, when set, sees every call's result (benchmarks read the
	// cold processes' peak memory from it).
	OnResult func(Result)

	mu     sync.Mutex
	hots   map[*Route]*Hot
	crash  error
	down   context.Context // done once crashed
	goDown context.CancelFunc
}

// state returns the context that ends when the server crashes.
func (s *Server) state() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down == nil {
		s.down, s.goDown = context.WithCancel(context.Background())
	}
	return s.down
}

func (s *Server) match(path string) *Route {
	for _, r := range append([]*Route{s.Route}, s.Routes...) {
		if r != nil && path == "/r/"+r.App+r.Path {
			return r
		}
	}
	return nil
}

// pool returns the route's hot pool, made on first use.
func (s *Server) pool(r *Route) *Hot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hots == nil {
		s.hots = map[*Route]*Hot{}
	}
	h, ok := s.hots[r]
	if !ok {
		h = NewHot(r)
		s.hots[r] = h
	}
	return h
}

// fail takes the whole server down, as the panic does the real one's.
func (s *Server) fail(method, path string) {
	s.state()
	s.mu.Lock()
	if s.crash == nil {
		s.crash = fmt.Errorf("ironrunner: the server crashed: %s %s reached a hot route, which IronFunctions 0.2.72 does not survive (only GET and POST are safe there); every route is down", method, path)
		s.goDown()
	}
	hots := slices.Collect(maps.Values(s.hots))
	s.mu.Unlock()
	for _, h := range hots {
		h.kill()
	}
}

// Crashed reports whether a request took the server down.
func (s *Server) Crashed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.crash != nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	down := s.state()
	if down.Err() != nil {
		panic(http.ErrAbortHandler) // nobody is listening any more
	}
	route := s.match(r.URL.Path)
	if route == nil {
		w.WriteHeader(http.StatusNotFound)
		w.Write(errorBody("Route not found", false))
		return
	}
	hot := route.Format == "http"
	if hot && r.Method != http.MethodGet && r.Method != http.MethodPost {
		s.fail(r.Method, r.URL.Path)
		panic(http.ErrAbortHandler)
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	call := Call{Method: r.Method, Host: r.Host, URL: r.URL.RequestURI(), Header: r.Header, Body: body}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(down, cancel)()
	var res Result
	if hot {
		res = s.pool(route).Run(ctx, call)
	} else {
		res = route.RunCold(ctx, call)
	}
	if down.Err() != nil {
		panic(http.ErrAbortHandler) // the server died during the call
	}
	if s.OnResult != nil {
		s.OnResult(res)
	}
	for k, vs := range res.Header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(res.Body)))
	w.WriteHeader(res.Status)
	w.Write(res.Body)
}

// Hot returns the hot pool of the server's Route, nil before its first
// hot call.
func (s *Server) Hot() *Hot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hots[s.Route]
}

// Close stops the hot processes. After a crash it returns the crash.
func (s *Server) Close() error {
	s.mu.Lock()
	errs := []error{s.crash}
	hots := slices.Collect(maps.Values(s.hots))
	s.hots = nil
	s.mu.Unlock()
	for _, h := range hots {
		errs = append(errs, h.Close())
	}
	return errors.Join(errs...)
}
