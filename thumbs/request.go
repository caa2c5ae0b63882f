package thumbs

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxFilenameBytes bounds a filename so that its thumbnail key (see Key)
// still fits S3's limit of 1024 bytes.
const MaxFilenameBytes = 1000

// KeyVersion names the transform in every thumbnail key. Bump it whenever
// the bytes of a thumbnail change (resizer, filter, encoder settings), so
// thumbnails made by older code are never served as new ones.
const KeyVersion = "v3"

// Request is one validated thumbnail request.
type Request struct {
	// Filename is the original's key in the images bucket.
	Filename string
	// Width is the asked width in pixels.
	Width int
	// Sig and Exp are the optional signature and its expiry, as sent.
	Sig, Exp string
}

// Key returns the thumbnail's key in the thumbs bucket:
// "<KeyVersion>/<width>/<filename>", e.g. "v3/180/cat.png". The version
// and the width hold no slash, so a key splits back into exactly one
// (version, width, filename): two requests never share a key.
func (r Request) Key() string {
	return KeyVersion + "/" + strconv.Itoa(r.Width) + "/" + r.Filename
}

// ParseQuery reads a request from a raw query string, following
// url.ParseQuery (`+` is a space, `%XX` escapes). It wants exactly one
// filename and one size, and ignores other parameters besides sig and exp.
// maxWidth bounds size.
func ParseQuery(rawQuery string, maxWidth int) (Request, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Request{}, badRequest("malformed query string: %v", err)
	}
	filename, err := one(q, "filename")
	if err != nil {
		return Request{}, err
	}
	size, err := one(q, "size")
	if err != nil {
		return Request{}, err
	}
	if err := ValidFilename(filename); err != nil {
		return Request{}, err
	}
	width, err := parseSize(size, maxWidth)
	if err != nil {
		return Request{}, err
	}
	r := Request{Filename: filename, Width: width}
	if len(q["sig"]) > 1 || len(q["exp"]) > 1 {
		return Request{}, badRequest("sig and exp may be given once each")
	}
	r.Sig, r.Exp = q.Get("sig"), q.Get("exp")
	return r, nil
}

func one(q url.Values, name string) (string, error) {
	switch v := q[name]; len(v) {
	case 0:
		return "", badRequest("missing %s parameter (want ?filename=NAME&size=WIDTH)", name)
	case 1:
		return v[0], nil
	default:
		return "", badRequest("%s given %d times, want once", name, len(v))
	}
}

func parseSize(s string, maxWidth int) (int, error) {
	if s == "" || s[0] < '1' || s[0] > '9' {
		return 0, badRequest("size %q: want a whole number of pixels from 1 to %d", clip(s), maxWidth)
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, badRequest("size %q: want a whole number of pixels from 1 to %d", clip(s), maxWidth)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > maxWidth {
		return 0, badRequest("size %s: larger than the maximum of %d", clip(s), maxWidth)
	}
	return n, nil
}

// ValidFilename reports why name cannot be an original's key: empty, not
// UTF-8, longer than MaxFilenameBytes, holding control characters,
// starting with "/", or with a "." or ".." path segment. Spaces, unicode
// and "/" between folders are fine.
func ValidFilename(name string) error {
	switch {
	case name == "":
		return badRequest("filename is empty")
	case len(name) > MaxFilenameBytes:
		return badRequest("filename is %d bytes long, more than %d", len(name), MaxFilenameBytes)
	case !utf8.ValidString(name):
		return badRequest("filename is not valid UTF-8")
	case strings.HasPrefix(name, "/"):
		return badRequest("filename %q starts with /", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return badRequest("filename %q holds a control character", name)
		}
	}
	for seg := range strings.SplitSeq(name, "/") {
		switch seg {
		case ".", "..":
			return badRequest("filename %q has a %q path segment", name, seg)
		case "":
			return badRequest("filename %q has an empty path segment", name)
		}
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

func badRequest(format string, args ...any) error {
	return Errorf(KindBadRequest, format, args...)
}
