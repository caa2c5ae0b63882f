// Package ironfn connects an http.Handler to IronFunctions' two ways of
// calling a function: the default ("cold") format, one process per call
// with the request in the environment and the answer on stdout, and the
// hot format (`format: http`), a long-lived process reading HTTP/1.1
// requests from stdin.
//
// Both doors buffer the handler's answer: the cold format must write
// nothing on stdout when the call fails, and the hot format must frame
// every answer with its Content-Length.
package ironfn

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

// MaxBody bounds the request body a hot call may carry. The function reads
// no body; larger ones are skipped and answered 413.
const MaxBody = 1 << 20

// maxHeader bounds a hot request's header; the rest of a longer one is
// skipped and the request answered 400.
const maxHeader = 64 << 10

// QueryOf returns the raw query of an IronFunctions REQUEST_URL. The server
// builds that URL without a colon after the scheme
// ("http//host/r/app/thumbs?filename=a.png&size=180"), so only the part
// after the first "?" is trusted.
func QueryOf(requestURL string) string {
	_, q, _ := strings.Cut(requestURL, "?")
	q, _, _ = strings.Cut(q, "#")
	return q
}

// recorder is a buffering http.ResponseWriter that also keeps the failure
// the handler answered (thumbs.ErrorRecorder), and takes a thumbnail's
// bytes without copying them (thumbs.BodyKeeper): a thumbnail is held once.
type recorder struct {
	header http.Header
	status int
	body   []byte
	err    *thumbs.Error
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	r.body = append(r.body, p...)
	return len(p), nil
}

func (r *recorder) KeepBody(p []byte) {
	r.WriteHeader(http.StatusOK)
	if len(r.body) == 0 {
		r.body = p
		return
	}
	r.body = append(r.body, p...)
}

func (r *recorder) RecordError(e *thumbs.Error) { r.err = e }

// complete reports whether the body is as long as the handler announced.
func (r *recorder) complete() bool {
	cl := r.header.Get("Content-Length")
	if cl == "" {
		return true
	}
	n, err := strconv.Atoi(cl)
	return err == nil && n == len(r.body)
}

// newHTTPCall builds the request the handler sees: always a GET of the
// function's path with the call's query. Client headers are not passed on:
// a conditional request would turn into an empty 200 behind IronFunctions.
func newHTTPCall(ctx context.Context, rawQuery string) *http.Request {
	r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	r.URL.RawQuery = rawQuery
	r.RequestURI = "/?" + rawQuery
	return r
}

// Cold serves the one call of a default-format process. requestURL is the
// REQUEST_URL variable. On success the body goes to stdout and Cold returns
// nil; on failure nothing is written to stdout and Cold returns the failure
// the handler answered (its kind gives the exit code; the handler has
// logged it).
func Cold(ctx context.Context, h http.Handler, requestURL string, stdout io.Writer) error {
	rec := newRecorder()
	h.ServeHTTP(rec, newHTTPCall(ctx, QueryOf(requestURL)))
	switch {
	case rec.err != nil:
		return rec.err
	case rec.status >= 300:
		return thumbs.Errorf(thumbs.KindInternal, "ironfn: the handler answered %d without an error", rec.status)
	case !rec.complete():
		return thumbs.Errorf(thumbs.KindUnavailable, "ironfn: thumbnail stream broke")
	}
	if _, err := stdout.Write(rec.body); err != nil {
		return &thumbs.Error{Kind: thumbs.KindInternal, Msg: "ironfn: writing the answer", Err: err}
	}
	return nil
}

// call is one hot request read from stdin, or why it could not be used.
type call struct {
	header http.Header
	err    *thumbs.Error
}

// Hot serves hot-format calls from stdin until it closes, answering each
// with exactly one HTTP/1.1 response carrying Content-Length. A request it
// cannot use is answered with an error and the loop goes on: a hot process
// that exits or breaks framing leaves the caller waiting for the route
// timeout.
//
// When ctx ends (SIGTERM), a call in progress is finished and answered on
// its own deadline, then Hot returns; an idle Hot returns at once.
func Hot(ctx context.Context, h http.Handler, stdin io.Reader, stdout io.Writer) error {
	reqs := make(chan call)
	stop := make(chan struct{})
	defer close(stop)
	readErr := make(chan error, 1)
	go func() {
		br := bufio.NewReader(stdin) // one reader for the whole loop: no byte lost
		for {
			req, err := readRequest(br)
			if err != nil {
				readErr <- err
				close(reqs)
				return
			}
			select {
			case reqs <- req:
			case <-stop:
				return
			}
		}
	}()
	bw := bufio.NewWriter(stdout)
	for {
		select {
		case <-ctx.Done():
			return nil
		case req, ok := <-reqs:
			if !ok {
				if err := <-readErr; !errors.Is(err, io.EOF) {
					return fmt.Errorf("ironfn: reading stdin: %w", err)
				}
				return nil
			}
			rec := serveOne(context.WithoutCancel(ctx), h, req)
			if err := writeResponse(bw, rec); err != nil {
				return fmt.Errorf("ironfn: writing response: %w", err)
			}
			if ctx.Err() != nil {
				return nil
			}
		}
	}
}

// readRequest reads one request, its body included, so that the next one
// is read from its start whatever this one holds. It fails only when
// stdin ends or breaks (io.EOF when it ends between requests or inside
// one: nobody waits for an answer then).
func readRequest(br *bufio.Reader) (call, error) {
	skipBlankLines(br)
	raw, tooLong, err := readHeader(br)
	if err != nil {
		return call{}, err
	}
	if tooLong {
		// The body's length is unknown: treat it as empty.
		return call{err: badRequest("ironfn: request header longer than %d bytes", maxHeader)}, nil
	}
	req, perr := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	var body io.Reader
	switch {
	case perr != nil:
		// Skip the body the header announced, if it says so plainly.
		n, _ := contentLength(raw)
		body = io.LimitReader(br, n)
	case req.ContentLength >= 0:
		body = io.LimitReader(br, req.ContentLength)
	default:
		body = httputil.NewChunkedReader(br)
	}
	n, err := io.Copy(io.Discard, body)
	if err != nil {
		return call{}, unexpected(err)
	}
	if want, ok := contentLength(raw); ok && n < want {
		return call{}, io.EOF
	}
	switch {
	case perr != nil:
		return call{err: badRequest("ironfn: malformed request: %v", perr)}, nil
	case n > MaxBody:
		return call{err: thumbs.Errorf(thumbs.KindTooLarge, "ironfn: request body of %d bytes: the function takes none", n)}, nil
	}
	return call{header: req.Header}, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return io.EOF
	}
	return err
}

// readHeader reads a request's header, up to and including the blank line
// that ends it. tooLong says it was longer than maxHeader; its end was
// read anyway.
func readHeader(br *bufio.Reader) (raw []byte, tooLong bool, err error) {
	var buf bytes.Buffer
	atLineStart := true
	for {
		line, err := br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			if buf.Len() > 0 || len(line) > 0 {
				return nil, false, unexpected(io.ErrUnexpectedEOF)
			}
			return nil, false, err
		}
		if buf.Len()+len(line) > maxHeader {
			tooLong = true
		} else {
			buf.Write(line)
		}
		full := err == nil
		if full && atLineStart && (len(line) == 1 || (len(line) == 2 && line[0] == '\r')) {
			return buf.Bytes(), tooLong, nil
		}
		atLineStart = full
	}
}

// contentLength reads the one Content-Length of a raw header, when it has
// exactly one valid one.
func contentLength(raw []byte) (int64, bool) {
	var found []string
	for line := range strings.SplitSeq(string(raw), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if ok && textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name)) == "Content-Length" {
			found = append(found, strings.TrimSpace(v))
		}
	}
	if len(found) != 1 {
		return 0, false
	}
	n, err := strconv.ParseInt(found[0], 10, 64)
	return n, err == nil && n >= 0
}

// skipBlankLines drops empty lines between requests, as HTTP servers do.
func skipBlankLines(br *bufio.Reader) {
	for {
		b, err := br.Peek(2)
		switch {
		case err == nil && b[0] == '\r' && b[1] == '\n':
			br.Discard(2)
		case len(b) > 0 && b[0] == '\n':
			br.Discard(1)
		default:
			return
		}
	}
}

func serveOne(ctx context.Context, h http.Handler, req call) *recorder {
	if req.err != nil {
		return errorResponse(req.err)
	}
	// Per-call values come from the headers: the process environment
	// holds only the first call's.
	u := req.header.Get("Request_url")
	if u == "" {
		return errorResponse(badRequest("ironfn: no Request_url header: not called by IronFunctions?"))
	}
	rec := newRecorder()
	h.ServeHTTP(rec, newHTTPCall(ctx, QueryOf(u)))
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if !rec.complete() {
		return errorResponse(thumbs.Errorf(thumbs.KindUnavailable, "ironfn: thumbnail stream broke"))
	}
	return rec
}

func badRequest(format string, args ...any) *thumbs.Error {
	return thumbs.Errorf(thumbs.KindBadRequest, format, args...)
}

func errorResponse(err error) *recorder {
	rec := newRecorder()
	thumbs.WriteError(rec, err)
	return rec
}

func writeResponse(bw *bufio.Writer, rec *recorder) error {
	rec.header.Set("Content-Length", strconv.Itoa(len(rec.body)))
	rec.header.Del("Transfer-Encoding")
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\n", rec.status, http.StatusText(rec.status))
	if err := rec.header.Write(bw); err != nil {
		return err
	}
	bw.WriteString("\r\n")
	bw.Write(rec.body)
	return bw.Flush()
}
