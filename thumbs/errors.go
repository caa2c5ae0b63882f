package thumbs

import (
	"context"
	"errors"
	"fmt"
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
	KindInternal         Kind = iota // 500, exit 70
	KindBadRequest                   // 400, exit 64
	KindBadImage                     // 415, exit 65: unsupported or corrupt image
	KindNotFound                     // 404, exit 66: original not found
	KindTooLarge                     // 413, exit 67: source or thumbnail too large
	KindUnavailable                  // 503, exit 69: storage unavailable
	KindStorageRefused               // 502, exit 69: storage refuses us (bucket missing, credentials)
	KindTimeout                      // 504, exit 75: call deadline exceeded
	KindForbidden                    // 403, exit 77: missing, wrong or expired signature
	KindOverloaded                   // 503, exit 69: too many transforms at once (local server)
	KindConfig                       // 500, exit 78: the function's configuration is invalid
	KindMethodNotAllowed             // 405, exit 64: the local server answers GET and HEAD only
)

// kinds is the one table of what each kind answers.
var kinds = map[Kind]struct {
	status, exit int
}{
	KindInternal:         {http.StatusInternalServerError, 70},
	KindBadRequest:       {http.StatusBadRequest, 64},
	KindBadImage:         {http.StatusUnsupportedMediaType, 65},
	KindNotFound:         {http.StatusNotFound, 66},
	KindTooLarge:         {http.StatusRequestEntityTooLarge, 67},
	KindUnavailable:      {http.StatusServiceUnavailable, 69},
	KindStorageRefused:   {http.StatusBadGateway, 69},
	KindTimeout:          {http.StatusGatewayTimeout, 75},
	KindForbidden:        {http.StatusForbidden, 77},
	KindOverloaded:       {http.StatusServiceUnavailable, 69},
	KindConfig:           {http.StatusInternalServerError, 78},
	KindMethodNotAllowed: {http.StatusMethodNotAllowed, 64},
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

// Error returns the message, and the cause when there is one. The doors
// show clients Msg alone.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an error of kind k with a message formatted as by
// fmt.Sprintf; clients may see it.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// ConfigError marks err as a configuration error (exit 78). Its message
// is shown to clients, so it must name settings, not their values; detail,
// for the log only, may show them with credentials removed.
func ConfigError(err error, detail string) error {
	e := &Error{Kind: KindConfig, Msg: "configuration error: " + err.Error()}
	if detail != "" {
		e.Err = errors.New(detail)
	}
	return e
}

// classify is the one place that maps any error to what a client is told.
// Unknown errors become KindInternal with the detail logged, never shown.
func classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	wrap := func(k Kind, msg string) *Error { return &Error{Kind: k, Msg: msg, Err: err} }
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return wrap(KindTimeout, "call deadline exceeded")
	case errors.Is(err, context.Canceled):
		return wrap(KindTimeout, "call canceled")
	case errors.Is(err, resize.ErrTooLarge):
		return wrap(KindTooLarge, "source image too large: "+detail(err, resize.ErrTooLarge))
	case errors.Is(err, resize.ErrUnsupported):
		return wrap(KindBadImage, "unsupported image: "+detail(err, resize.ErrUnsupported))
	case errors.Is(err, resize.ErrCorrupt):
		return wrap(KindBadImage, "corrupt image: "+detail(err, resize.ErrCorrupt))
	case errors.Is(err, store.ErrNotFound):
		return wrap(KindNotFound, "original not found")
	case errors.Is(err, store.ErrInvalidKey):
		return wrap(KindBadRequest, "filename refused by the store")
	case errors.Is(err, store.ErrNoBucket):
		return wrap(KindStorageRefused, "storage misconfigured: bucket does not exist")
	case errors.Is(err, store.ErrDenied):
		return wrap(KindStorageRefused, "storage refused access")
	case errors.Is(err, store.ErrUnavailable):
		return wrap(KindUnavailable, "storage unavailable")
	}
	return wrap(KindInternal, "internal error")
}

// detail returns what err says after the sentinel's own text.
func detail(err, sentinel error) string {
	_, rest, ok := strings.Cut(err.Error(), sentinel.Error()+": ")
	if !ok {
		return sentinel.Error()
	}
	return rest
}

// ExitCode returns the cold-format exit code of err: 0 for nil, else its
// kind's.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	return classify(err).Kind.ExitCode()
}
