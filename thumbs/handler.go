// Package thumbs is the thumbnail function itself: one http.Handler that
// reads filename and size from the query, serves a stored thumbnail or
// makes, stores and serves a new one, and maps every failure to one status,
// one message and one exit code.
//
// The doors that reach it (cold and hot IronFunctions calls, the local
// server) only turn their input into an *http.Request.
package thumbs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iron-thumbs/iron_thumbs/resize"
	"github.com/iron-thumbs/iron_thumbs/store"
	"github.com/iron-thumbs/iron_thumbs/urlsig"
)

// Store is what the handler needs of a bucket.
type Store interface {
	// Get opens the object at key, or fails with store.ErrNotFound.
	Get(ctx context.Context, key string) (*store.Object, error)
	// Head returns the object's metadata without its body.
	Head(ctx context.Context, key string) (*store.Object, error)
	// Put writes the object whole or not at all.
	Put(ctx context.Context, key string, body []byte, contentType string, meta map[string]string) error
}

// Metadata keys written with every thumbnail.
const (
	// MetaETag is the thumbnail's own ETag, a hash of its bytes, so a hit
	// and a miss answer the same ETag whatever the store's scheme, and a
	// hit can be checked whole before it is sent.
	MetaETag = "thumb-etag"
	// MetaSourceETag is the store's ETag of the original it was made from.
	MetaSourceETag = "source-etag"
)

// Options are the handler's settings. The function's configuration makes
// them (config.Config.Handler); they hold nothing the handler does not use,
// no storage credentials in particular.
type Options struct {
	// Cache reads and writes the thumbs bucket. Off makes every thumbnail
	// anew and stores nothing.
	Cache bool
	// MaxWidth is the largest size asked for.
	MaxWidth int
	// Sizes, when not empty, are the only sizes allowed.
	Sizes []int
	// CallTimeout bounds every call.
	CallTimeout time.Duration
	// CacheControl is sent with every thumbnail; none when empty.
	CacheControl string
	// MaxSourceBytes and MaxSourcePixels bound the original.
	MaxSourceBytes  int64
	MaxSourcePixels int64
	// MaxThumbPixels bounds a thumbnail's width×height, upright.
	MaxThumbPixels int64
	// JPEGQuality is the quality of JPEG thumbnails.
	JPEGQuality int
	// SigningKey, when set, makes every call carry a valid signature.
	SigningKey string
	// Freshness checks on every hit that the original is unchanged.
	Freshness bool
	// MaxTransforms bounds the transforms running at once; a miss beyond
	// it is answered 503 with Retry-After at once instead of piling up
	// memory. Zero means no bound: an IronFunctions container serves one
	// call at a time, the local server serves many.
	MaxTransforms int
	// BeforeTransform, when set, is called as a call starts making a
	// thumbnail: the cold door runs a hit on one core and gives the
	// process its cores back here.
	BeforeTransform func()
}

// StoreTimeout is how long writing a thumbnail of n bytes may take: 2 s
// plus 1 s per MB, within what is left of the call. A write that takes
// longer is abandoned and the client gets its thumbnail anyway.
func StoreTimeout(n int) time.Duration {
	return 2*time.Second + time.Duration(n)*time.Second/1_000_000
}

// MaxThumbBytes bounds the bytes of a stored thumbnail of at most pixels
// pixels: 8-bit RGBA stored raw, with its framing, or a JPEG at quality 100
// of noise. A stored object larger than this is not one of ours.
func MaxThumbBytes(pixels int64) int64 { return 6*pixels + 64<<10 }

// Handler serves thumbnails. Build it with New.
type Handler struct {
	opts   Options
	images Store
	thumbs Store
	log    *slog.Logger
	// slots bounds concurrent transforms; nil means no bound.
	slots chan struct{}
	// inflight makes identical concurrent misses share one transform.
	inflight flights
}

// New returns a handler reading originals from images and keeping
// thumbnails in thumbs. Its options must have been validated.
func New(opts Options, images, thumbs Store, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{opts: opts, images: images, thumbs: thumbs, log: log}
	if opts.MaxTransforms > 0 {
		h.slots = make(chan struct{}, opts.MaxTransforms)
	}
	return h
}

// call is the record of one call: its phases for Server-Timing and its
// one log line.
type call struct {
	key     string
	outcome string
	phases  []phase
	start   time.Time
	last    time.Time
}

type phase struct {
	name string
	dur  time.Duration
}

func (c *call) mark(name string) {
	now := time.Now()
	c.phases = append(c.phases, phase{name, now.Sub(c.last)})
	c.last = now
}

func (c *call) add(name string, d time.Duration) {
	c.phases = append(c.phases, phase{name, d})
	c.last = c.last.Add(d)
}

func (c *call) serverTiming() string {
	parts := make([]string, len(c.phases))
	for i, p := range c.phases {
		parts[i] = fmt.Sprintf("%s;dur=%.1f", p.name, float64(p.dur.Microseconds())/1000)
	}
	return strings.Join(parts, ", ")
}

func (c *call) logAttrs() []any {
	attrs := []any{"key", c.key, "outcome", c.outcome, "ms", float64(time.Since(c.start).Microseconds()) / 1000}
	for _, p := range c.phases {
		attrs = append(attrs, p.name+"_ms", float64(p.dur.Microseconds())/1000)
	}
	return attrs
}

// ServeHTTP answers one call with one log line. Every method is treated as
// GET; the doors decide which methods reach it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	c := &call{start: now, last: now}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.CallTimeout)
	defer cancel()
	if err := h.serve(ctx, w, r, c); err != nil {
		e := classify(err)
		c.outcome = "error"
		attrs := append(c.logAttrs(), "status", e.Kind.Status())
		h.log.Log(ctx, logLevel(e.Kind), "thumbs: "+e.Error(), attrs...)
		WriteError(w, e)
		return
	}
	h.log.Info("thumbs: served", c.logAttrs()...)
}

// logLevel is how loud a failure is in the log: what a client got wrong
// is information; what we or the storage got wrong is an error.
func logLevel(k Kind) slog.Level {
	switch k {
	case KindBadRequest, KindNotFound, KindForbidden, KindMethodNotAllowed:
		return slog.LevelInfo
	case KindBadImage, KindTooLarge, KindOverloaded:
		return slog.LevelWarn
	}
	return slog.LevelError
}

// ErrorRecorder is a ResponseWriter that wants the failure itself, not
// only its status: the cold door, whose exit code is all a client sees,
// takes it from the failure's kind.
type ErrorRecorder interface {
	RecordError(*Error)
}

// BodyKeeper is a ResponseWriter that buffers the answer anyway (the
// IronFunctions doors): it is handed the thumbnail's bytes to keep as they
// are, instead of a copy. The handler does not touch them afterwards.
type BodyKeeper interface {
	KeepBody([]byte)
}

// WriteError answers err as JSON: {"error":{"message":"…"}}.
func WriteError(w http.ResponseWriter, err error) {
	e := classify(err)
	if r, ok := w.(ErrorRecorder); ok {
		r.RecordError(e)
	}
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"message": e.Msg}})
	body = append(body, '\n')
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	hd.Set("Cache-Control", "no-store")
	if e.Kind == KindUnavailable || e.Kind == KindOverloaded {
		hd.Set("Retry-After", "1")
	}
	w.WriteHeader(e.Kind.Status())
	w.Write(body)
}

func (h *Handler) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, c *call) error {
	req, err := ParseQuery(r.URL.RawQuery, h.opts.MaxWidth)
	if err != nil {
		return err
	}
	c.key = req.Key()
	if err := h.checkAllowed(req); err != nil {
		return err
	}
	if h.opts.Cache {
		data, obj, err := h.lookup(ctx, c.key)
		c.mark("lookup")
		switch {
		case err == nil:
			if h.opts.Freshness && !h.fresh(ctx, req, obj, c) {
				break
			}
			c.outcome = "hit"
			return h.answer(w, r, data, obj.ContentType, obj.Meta[MetaETag], c)
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, store.ErrInvalidKey), errors.Is(err, store.ErrUnreachable):
			// Unreachable: the originals are on the same server.
			return err
		case errors.Is(err, errDamaged):
			h.log.Warn("thumbs: stored thumbnail is damaged; making it anew", "key", c.key, "err", err)
		case !errors.Is(err, store.ErrNotFound):
			// A failing thumbs bucket costs speed, not the answer.
			h.log.Warn("thumbs: thumbnail lookup failed, making it anew", "key", c.key, "err", err)
		}
	}
	c.outcome = "miss"
	transform := func(tctx context.Context) (*thumbnail, error) {
		tc := &call{key: c.key, start: time.Now(), last: time.Now()}
		t, err := h.make(tctx, req, tc)
		if err != nil {
			return nil, err
		}
		if h.opts.Cache {
			if err := h.store(tctx, c.key, t); err != nil {
				h.log.Error("thumbs: storing thumbnail failed; served it anyway", "key", c.key, "bytes", len(t.data), "err", err)
			}
			tc.mark("store")
		}
		t.phases = tc.phases
		return t, nil
	}
	var t *thumbnail
	var shared bool
	if h.opts.Cache {
		t, shared, err = h.inflight.do(ctx, c.key, h.opts.CallTimeout, transform)
	} else {
		// Always make: every call makes its own thumbnail, none shared.
		t, err = transform(ctx)
	}
	if err != nil {
		return err
	}
	if shared {
		c.outcome = "shared"
	}
	for _, p := range t.phases {
		c.add(p.name, p.dur)
	}
	return h.answer(w, r, t.data, t.contentType, t.etag, c)
}

// store writes a thumbnail on its own deadline (StoreTimeout), within the
// call's. A call logs a failure and serves the thumbnail anyway: storing
// never costs the client its thumbnail.
func (h *Handler) store(ctx context.Context, key string, t *thumbnail) error {
	sctx, cancel := context.WithTimeout(ctx, StoreTimeout(len(t.data)))
	defer cancel()
	meta := map[string]string{MetaETag: t.etag, MetaSourceETag: t.sourceETag}
	return h.thumbs.Put(sctx, key, t.data, t.contentType, meta)
}

// errDamaged marks a stored thumbnail that is not whole: short, or not the
// bytes its metadata names.
var errDamaged = errors.New("thumbs: stored thumbnail is damaged")

// lookup reads a stored thumbnail whole and checks it against its
// thumb-etag: only a thumbnail that is exactly what was stored is served.
// Hits are bounded by the thumbnail pixel limit, so buffering them is.
func (h *Handler) lookup(ctx context.Context, key string) ([]byte, *store.Object, error) {
	obj, err := h.thumbs.Get(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	defer obj.Body.Close()
	limit := MaxThumbBytes(h.opts.MaxThumbPixels)
	if obj.Size < 0 || obj.Size > limit {
		return nil, nil, fmt.Errorf("%w: %d bytes, more than a thumbnail can be", errDamaged, obj.Size)
	}
	data := make([]byte, obj.Size)
	n, err := io.ReadFull(obj.Body, data)
	switch {
	case ctx.Err() != nil:
		return nil, nil, ctx.Err()
	case err != nil:
		return nil, nil, fmt.Errorf("%w: %d of %d bytes: %v", errDamaged, n, obj.Size, err)
	}
	if extra, _ := obj.Body.Read(make([]byte, 1)); extra > 0 {
		return nil, nil, fmt.Errorf("%w: longer than its %d bytes", errDamaged, obj.Size)
	}
	if want := obj.Meta[MetaETag]; want == "" || ETag(data) != want {
		return nil, nil, fmt.Errorf("%w: bytes do not match %s %q", errDamaged, MetaETag, want)
	}
	if obj.ContentType == "" {
		return nil, nil, fmt.Errorf("%w: no content type", errDamaged)
	}
	return data, obj, nil
}

// fresh reports whether a stored thumbnail was made from the original as
// it is now (one HEAD of the original). A thumbnail of a replaced
// original is made anew; of a deleted one, too, which answers not found.
func (h *Handler) fresh(ctx context.Context, req Request, thumb *store.Object, c *call) bool {
	src, err := h.images.Head(ctx, req.Filename)
	c.mark("freshness")
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			h.log.Warn("thumbs: freshness check failed; serving the stored thumbnail", "key", c.key, "err", err)
			return true
		}
		return false
	}
	return thumb.Meta[MetaSourceETag] == src.ETag
}

func (h *Handler) checkAllowed(req Request) error {
	if h.opts.SigningKey != "" {
		err := urlsig.Check([]byte(h.opts.SigningKey), req.Filename, req.Width, req.Sig, req.Exp, time.Now())
		if err != nil {
			return Errorf(KindForbidden, "%s", urlsig.String(err))
		}
	}
	return h.opts.CheckSize(req.Width)
}

// CheckSize reports a width the options do not offer: above MaxWidth, or
// not one of Sizes when those are set.
func (o Options) CheckSize(width int) error {
	if width < 1 || width > o.MaxWidth {
		return badRequest("size %d: want 1 to %d", width, o.MaxWidth)
	}
	if len(o.Sizes) == 0 || slices.Contains(o.Sizes, width) {
		return nil
	}
	return badRequest("size %d is not offered; allowed sizes are %s", width, joinInts(o.Sizes))
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// answer sends a thumbnail, or 304 when the client has it.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, data []byte, contentType, etag string, c *call) error {
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("ETag", etag)
	if h.opts.CacheControl != "" {
		hd.Set("Cache-Control", h.opts.CacheControl)
	}
	hd.Set("Server-Timing", c.serverTiming())
	hd.Set("Content-Length", strconv.Itoa(len(data)))
	if match(r, etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	if k, ok := w.(BodyKeeper); ok {
		k.KeepBody(data)
		return nil
	}
	w.Write(data)
	return nil
}

type thumbnail struct {
	data        []byte
	contentType string
	etag        string
	sourceETag  string
	phases      []phase // of the transform, for Server-Timing
}

// make fetches the original and makes its thumbnail. Its transform slot
// is held until the work has really stopped: resize returns only then.
func (h *Handler) make(ctx context.Context, req Request, c *call) (*thumbnail, error) {
	if h.slots != nil {
		select {
		case h.slots <- struct{}{}:
			defer func() { <-h.slots }()
		default:
			return nil, Errorf(KindOverloaded, "too many thumbnails being made at once; retry shortly")
		}
	}
	if h.opts.BeforeTransform != nil {
		h.opts.BeforeTransform()
	}
	src, err := h.images.Get(ctx, req.Filename)
	if err != nil {
		return nil, err
	}
	defer src.Body.Close()
	if src.Size > h.opts.MaxSourceBytes {
		return nil, Errorf(KindTooLarge, "source is %d bytes, more than the limit of %d", src.Size, h.opts.MaxSourceBytes)
	}
	c.mark("fetch") // to the first byte: the body streams into the decoder
	to := h.opts.Transform(req.Width)
	to.SourceSize = src.Size
	res, err := resize.Thumbnail(ctx, &bodyReader{ctx: ctx, r: src.Body}, to)
	if err != nil {
		return nil, err
	}
	c.add("decode", res.Decode)
	c.add("resize", res.Resize)
	c.add("encode", res.Encode)
	c.last = time.Now()
	return &thumbnail{
		data:        res.Data,
		contentType: res.ContentType,
		etag:        ETag(res.Data),
		sourceETag:  src.ETag,
	}, nil
}

// Transform returns what a transform of width is asked to make: the
// thumbnail a call makes, under the call's limits.
func (o Options) Transform(width int) resize.Options {
	return resize.Options{
		Width:           width,
		MaxPixels:       o.MaxSourcePixels,
		MaxOutputPixels: o.MaxThumbPixels,
		MaxBytes:        o.MaxSourceBytes,
		JPEGQuality:     o.JPEGQuality,
	}
}

// bodyReader reports a broken read of the original as a storage failure,
// or as the deadline when the call's context ended.
type bodyReader struct {
	ctx context.Context
	r   io.Reader
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		if b.ctx.Err() != nil {
			return n, b.ctx.Err()
		}
		return n, fmt.Errorf("thumbs: reading original: %w: %v", store.ErrUnavailable, err)
	}
	return n, err
}

// ETag returns the entity tag of thumbnail bytes: a quoted hash of them.
func ETag(data []byte) string {
	sum := sha256.Sum256(data)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// match reports whether the request's If-None-Match names etag.
func match(r *http.Request, etag string) bool {
	inm := r.Header.Get("If-None-Match")
	if inm == "" {
		return false
	}
	for t := range strings.SplitSeq(inm, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
