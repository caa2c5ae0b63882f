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
	"strconv"
	"strings"

	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

// MaxBody bounds the request body a hot call may carry. The function reads
// no body; larger ones are skipped and answered 413.
const MaxBody = 1 << 20

// recorder is a buffering http.ResponseWriter.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
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
	return r.body.Write(p)
}

// complete reports whether the body is as long as the handler announced.
func (r *recorder) complete() bool {
	cl := r.header.Get("Content-Length")
	if cl == "" {
		return true
	}
	n, err := strconv.Atoi(cl)
	return err == nil && n == r.body.Len()
}

// newCall builds the request the handler sees: always a GET of the
// function's path with the call's query. Client headers are not passed on:
// a conditional request would turn into an empty 200 behind IronFunctions.
func newCall(ctx context.Context, rawQuery string) *http.Request {
	r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	r.URL.RawQuery = rawQuery
	r.RequestURI = "/?" + rawQuery
	return r
}

// Cold serves the one call of a default-format process. requestURL is the
// REQUEST_URL variable. On success the body goes to stdout and Cold returns
// 0; on failure nothing is written to stdout and Cold returns the exit code
// of the failure's class (the handler has logged the reason on stderr).
func Cold(ctx context.Context, h http.Handler, requestURL string, stdout io.Writer) int {
	rec := newRecorder()
	h.ServeHTTP(rec, newCall(ctx, thumbs.QueryOf(requestURL)))
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 300 {
		return thumbs.ExitCode(rec.status)
	}
	if !rec.complete() {
		return thumbs.Unavailable.ExitCode()
	}
	if _, err := stdout.Write(rec.body.Bytes()); err != nil {
		return thumbs.Internal.ExitCode()
	}
	return 0
}

// Hot serves hot-format calls from stdin until it closes, answering each
// with exactly one HTTP/1.1 response carrying Content-Length. A request it
// cannot use is answered with an error and the loop goes on: a hot process
// that exits or breaks framing leaves the caller waiting for the route
// timeout.
func Hot(ctx context.Context, h http.Handler, stdin io.Reader, stdout io.Writer) error {
	br := bufio.NewReader(stdin) // one reader for the whole loop: no byte lost
	bw := bufio.NewWriter(stdout)
	for {
		skipBlankLines(br)
		req, err := http.ReadRequest(br)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if _, perr := br.Peek(1); perr != nil {
				// The stream ended inside a request: nobody waits for an answer.
				return nil
			}
			if headerUnread(err) {
				skipHeader(br)
			}
			if err := writeResponse(bw, errorResponse(fmt.Errorf("ironfn: malformed request: %w", err), thumbs.BadRequest)); err != nil {
				return err
			}
			continue
		}
		rec := serveOne(ctx, h, req)
		if err := writeResponse(bw, rec); err != nil {
			return fmt.Errorf("ironfn: writing response: %w", err)
		}
	}
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

// headerUnread reports whether a ReadRequest error came from the request
// line or a header line, before the blank line that ends the header was
// read. Errors found after it (duplicate Host, bad Content-Length) leave the
// stream at the body.
func headerUnread(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "malformed HTTP") || strings.Contains(msg, "malformed MIME") ||
		strings.Contains(msg, "invalid") && strings.Contains(msg, "header")
}

// skipHeader drops what is left of a malformed request's header, up to
// and including the blank line that ends it, so the next request is read
// from its start.
func skipHeader(br *bufio.Reader) {
	partial := false // inside a line longer than the buffer
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			partial = true
			continue
		}
		if err != nil {
			return
		}
		if !partial && strings.TrimSpace(string(line)) == "" {
			return
		}
		partial = false
	}
}

func serveOne(ctx context.Context, h http.Handler, req *http.Request) *recorder {
	// Consume the body whatever happens, so the next request starts
	// where it should.
	n, err := io.Copy(io.Discard, req.Body)
	req.Body.Close()
	if err != nil {
		return errorResponse(fmt.Errorf("ironfn: reading request body: %w", err), thumbs.BadRequest)
	}
	if n > MaxBody {
		return errorResponse(fmt.Errorf("ironfn: request body of %d bytes: the function takes none", n), thumbs.TooLarge)
	}
	// Per-call values come from the headers: the process environment
	// holds only the first call's.
	u := req.Header.Get("Request_url")
	if u == "" {
		return errorResponse(errors.New("ironfn: no Request_url header: not called by IronFunctions?"), thumbs.BadRequest)
	}
	rec := newRecorder()
	h.ServeHTTP(rec, newCall(ctx, thumbs.QueryOf(u)))
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if !rec.complete() {
		return errorResponse(errors.New("ironfn: thumbnail stream broke"), thumbs.Unavailable)
	}
	return rec
}

func errorResponse(err error, kind thumbs.Kind) *recorder {
	rec := newRecorder()
	thumbs.WriteError(rec, &thumbs.Error{Kind: kind, Msg: err.Error()})
	return rec
}

func writeResponse(bw *bufio.Writer, rec *recorder) error {
	rec.header.Set("Content-Length", strconv.Itoa(rec.body.Len()))
	rec.header.Del("Transfer-Encoding")
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\n", rec.status, http.StatusText(rec.status))
	if err := rec.header.Write(bw); err != nil {
		return err
	}
	bw.WriteString("\r\n")
	bw.Write(rec.body.Bytes())
	return bw.Flush()
}
