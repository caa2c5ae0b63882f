package thumbs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/iron-thumbs/iron_thumbs/store"
)

// Warmed is what Warm did for one original at one size.
type Warmed int

const (
	// WarmFresh: a thumbnail of the original as it is now was stored.
	WarmFresh Warmed = iota
	// WarmMade: it was missing or stale, and has been made and stored.
	WarmMade
)

// Warm makes the thumbnail of an original at width, as a miss would, and
// stores it, unless a fresh one is stored already: one whose source-etag
// is the original's ETag now (a listing's). It applies every limit of a
// call, CALL_TIMEOUT included; a refusal (a filename or image the limits refuse) comes back as
// the error a call would answer. Unlike a call, a failed store is an
// error: the thumbnail is not there.
func (h *Handler) Warm(ctx context.Context, filename, sourceETag string, width int) (Warmed, error) {
	if err := ValidFilename(filename); err != nil {
		return 0, err
	}
	if err := h.opts.CheckSize(width); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.CallTimeout)
	defer cancel()
	req := Request{Filename: filename, Width: width}
	key := req.Key()
	if obj, err := h.thumbs.Head(ctx, key); err == nil {
		if obj.Meta[MetaETag] != "" && obj.Meta[MetaSourceETag] == sourceETag && obj.ContentType != "" {
			return WarmFresh, nil
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	c := &call{key: key, start: time.Now(), last: time.Now()}
	t, err := h.make(ctx, req, c)
	if err != nil {
		return 0, err
	}
	if err := h.store(ctx, key, t); err != nil {
		return 0, fmt.Errorf("thumbs: storing %s: %w", key, err)
	}
	return WarmMade, nil
}

// Refused reports whether err is a refusal of the input (a filename, an
// image or a size the limits refuse) rather than a failure a second try
// could mend.
func Refused(err error) bool {
	switch classify(err).Kind {
	case KindBadRequest, KindBadImage, KindTooLarge, KindNotFound, KindForbidden:
		return true
	}
	return false
}
