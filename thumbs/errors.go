package thumbs

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/iron-thumbs/iron_thumbs/resize"
	"github.com/iron-thumbs/iron_thumbs/store"
)

// Kind is a class of failure. Each has one HTTP status and one exit code
// for the cold format, where the exit code is all a client sees.
type Kind int

// The kinds of failure.
const (
	Internal         Kind = iota // 500, exit 70
	BadRequest                   // 400, exit 64
	BadImage                     // 415, exit 65: unsupported or corrupt image
	NotFound                     // 404, exit 66: original not found
	TooLarge                     // 413, exit 67: source too large
	Unavailable                  // 503, exit 69: storage unavailable
	Misconfig                    // 502, exit 69: storage refuses us (bucket missing, credentials)
	Timeout                      // 504, exit 75: call deadline exceeded
	Forbidden                    // 403, exit 77: missing, wrong or expired signature
	Overloaded                   // 503, exit 69: too many transforms at once (local server)
	Config                       // 500, exit 78: the function's configuration is invalid
	MethodNotAllowed             // 405, exit 64: the local server answers GET and HEAD only
)

var kinds = map[Kind]struct {
	status, exit int
}{
	Internal:         {http.StatusInternalServerError, 70},
	BadRequest:       {http.StatusBadRequest, 64},
	BadImage:         {http.StatusUnsupportedMediaType, 65},
	NotFound:         {http.StatusNotFound, 66},
	TooLarge:         {http.StatusRequestEntityTooLarge, 67},
	Unavailable:      {http.StatusServiceUnavailable, 69},
	Misconfig:        {http.StatusBadGateway, 69},
	Timeout:          {http.StatusGatewayTimeout, 75},
	Forbidden:        {http.StatusForbidden, 77},
	Overloaded:       {http.StatusServiceUnavailable, 69},
	Config:           {http.StatusInternalServerError, 78},
	MethodNotAllowed: {http.StatusMethodNotAllowed, 64},
}

// Status returns the HTTP status of the kind.
func (k Kind) Status() int { return kinds[k].status }

// ExitCode returns the cold-format exit code of the kind.
func (k Kind) ExitCode() int { return kinds[k].exit }

// Error is a failure with its kind and a message safe to show a client.
type Error struct {
	Kind Kind
	Msg  string
	Err  error // the cause, logged but never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "thumbs: " + e.Msg + ": " + e.Err.Error()
	}
	return "thumbs: " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// ConfigError marks err as a configuration error (exit 78).
func ConfigError(err error) error {
	return &Error{Kind: Config, Msg: "configuration error: " + err.Error()}
}

// classify is the one place that maps any error to what a client is told.
// Unknown errors become Internal with the detail logged, never shown.
func classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	wrap := func(k Kind, msg string) *Error { return &Error{Kind: k, Msg: msg, Err: err} }
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return wrap(Timeout, "call deadline exceeded")
	case errors.Is(err, context.Canceled):
		return wrap(Timeout, "call canceled")
	case errors.Is(err, resize.ErrTooLarge):
		return wrap(TooLarge, "source image too large: "+detail(err, resize.ErrTooLarge))
	case errors.Is(err, resize.ErrUnsupported):
		return wrap(BadImage, "unsupported image: "+detail(err, resize.ErrUnsupported))
	case errors.Is(err, resize.ErrCorrupt):
		return wrap(BadImage, "corrupt image: "+detail(err, resize.ErrCorrupt))
	case errors.Is(err, store.ErrNotFound):
		return wrap(NotFound, "original not found")
	case errors.Is(err, store.ErrInvalidKey):
		return wrap(BadRequest, "filename refused by the store")
	case errors.Is(err, store.ErrNoBucket):
		return wrap(Misconfig, "storage misconfigured: bucket does not exist")
	case errors.Is(err, store.ErrDenied):
		return wrap(Misconfig, "storage refused access")
	case errors.Is(err, store.ErrUnavailable):
		return wrap(Unavailable, "storage unavailable")
	}
	return wrap(Internal, "internal error")
}

// detail returns what err says after the sentinel's own text.
func detail(err, sentinel error) string {
	_, rest, ok := strings.Cut(err.Error(), sentinel.Error()+": ")
	if !ok {
		return sentinel.Error()
	}
	return rest
}

// ExitCode returns the cold-format exit code for an HTTP status the
// handler answered with; 0 for success.
func ExitCode(status int) int {
	if status < 400 {
		return 0
	}
	for _, k := range []Kind{BadRequest, BadImage, NotFound, TooLarge, Unavailable, Misconfig, Timeout, Forbidden, Internal} {
		if k.Status() == status {
			return k.ExitCode()
		}
	}
	if status < 500 {
		return BadRequest.ExitCode()
	}
	return Internal.ExitCode()
}

// ExitCodeOf returns the cold-format exit code of any error.
func ExitCodeOf(err error) int { return classify(err).Kind.ExitCode() }
