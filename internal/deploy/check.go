package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/iron-thumbs/iron_thumbs/config"
	"github.com/iron-thumbs/iron_thumbs/internal/ironapi"
	"github.com/iron-thumbs/iron_thumbs/s3store"
	"github.com/iron-thumbs/iron_thumbs/store"
)

// TestedVersion is the IronFunctions release whose behaviour this
// package follows (shared/ironfunctions/CONTRACT.md).
const TestedVersion = "0.2.72"

// checkTimeout bounds each request of the checks: a server that accepts
// connections and never answers is reported, not waited for.
const checkTimeout = 10 * time.Second

// where says where the settings come from, or should go, as messages
// name it: "deploy.env", "the environment"; "the settings" without
// Target.Where.
func (t Target) where(names ...string) string {
	if t.Where == nil {
		return "the settings"
	}
	var out []string
	for _, n := range names {
		if w := t.Where(n); !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return strings.Join(out, " and ")
}

// Check reports, without a request, what the server or the function
// would refuse late: settings the function does not have or would refuse
// at start, missing S3 credentials, an app name the server mishandles,
// func.yaml's faults, and a CALL_TIMEOUT that is not below the route's
// timeout (the server would cut every slow call before the function
// could answer it). Each problem is one line saying what to change.
func (t Target) Check() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("deploy: "+format, args...)) }
	for _, k := range slices.Sorted(maps.Keys(t.Config)) {
		if _, ok := managed(k); !ok {
			add("%s is not a setting of the function: remove it from %s", k, t.where(k))
		}
	}
	c, err := config.FromEnv(func(k string) string { return t.Config[k] })
	if err != nil {
		for _, e := range leaves(errors.Unwrap(err)) {
			var se *config.SettingError
			if errors.As(e, &se) {
				// The operator's own values, secrets hidden.
				add("%s: %s: fix it in %s", se.Redacted(), se.Problem, t.where(se.Name))
			} else {
				add("%v", e)
			}
		}
	} else {
		var missing []string
		for _, name := range []string{"S3_ACCESS_KEY", "S3_SECRET_KEY"} {
			if t.Config[name] == "" {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			add("%s not set: set %s in %s (and S3_ENDPOINT, unless the store is AWS S3)",
				strings.Join(missing, " and "), strings.Join(missing, " and "), t.where(missing...))
		} else if err := c.CheckS3(); err != nil {
			var se *config.SettingError
			if errors.As(err, &se) {
				add("%s: %s: fix it in %s", se.Redacted(), se.Problem, t.where(se.Name))
			} else {
				add("%s: fix it in %s", strings.TrimPrefix(err.Error(), "config: "), t.where("S3_ENDPOINT"))
			}
		}
	}
	if err := ironapi.CheckAppName(t.App); err != nil {
		add("APP=%q: an app name is lowercase letters, digits, _ and -, at most %d characters: change APP in %s",
			t.App, ironapi.MaxAppName, t.where("APP"))
	}
	want, rerr := t.Route()
	if rerr != nil {
		errs = append(errs, rerr)
	}
	if err == nil && rerr == nil {
		timeout := time.Duration(want.Timeout) * time.Second
		which := fmt.Sprintf("func.yaml's timeout %s", timeout)
		if want.Timeout == 0 {
			timeout = ironapi.DefaultTimeout
			which = fmt.Sprintf("the server's default route timeout %s (func.yaml sets no timeout)", timeout)
		}
		if c.CallTimeout >= timeout {
			set := ""
			if t.Config["CALL_TIMEOUT"] == "" {
				set = " (its default)"
			}
			add("CALL_TIMEOUT=%s%s is not below %s: lower CALL_TIMEOUT in %s or raise timeout in func.yaml",
				c.CallTimeout, set, which, t.where("CALL_TIMEOUT"))
		}
	}
	return errors.Join(errs...)
}

// leaves flattens joined errors.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// Preflight checks, before anything is written and printing what it
// finds, in this order: the target itself (Check), who answers at the
// API's URL (GET /version: something else's plain 404 must never read as
// "no such app"), and the S3 settings with the S3 server. A dry run does
// only the read-only S3 checks. An S3 server this machine cannot reach
// is a warning: it may well be reachable from where the function runs.
func Preflight(ctx context.Context, c *ironapi.Client, t Target, o Options) error {
	if err := t.Check(); err != nil {
		return err
	}
	r := &runner{c: c, o: o}
	if err := r.server(ctx, t); err != nil {
		return err
	}
	return r.storage(ctx, t)
}

func (r *runner) server(ctx context.Context, t Target) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	v, err := r.c.Version(ctx)
	var ae *ironapi.AnswerError
	var ue *url.Error
	switch {
	case errors.As(err, &ae):
		return fmt.Errorf("deploy: API_URL=%s is not an IronFunctions server: GET /version answered %s", r.c.URL(), ae.Answer())
	case errors.As(err, &ue):
		return fmt.Errorf("deploy: API_URL=%s: no answer (%v): is the IronFunctions server running, and is API_URL right? (set it in %s)",
			r.c.URL(), ue.Err, t.where("API_URL"))
	case err != nil:
		return err
	}
	r.say("IronFunctions %s at %s", v, r.c.URL())
	if v != TestedVersion {
		r.say("WARNING: this deploy follows IronFunctions %s's behaviour; %s may differ", TestedVersion, v)
	}
	return nil
}

// storage checks the S3 settings with the S3 server: the credentials and
// both buckets (ListObjectsV2, max-keys 1), then, unless in a dry run,
// that the thumbs bucket takes a write (a probe under
// s3store.CheckPrefix, deleted at once).
func (r *runner) storage(ctx context.Context, t Target) error {
	c, err := config.FromEnv(func(k string) string { return t.Config[k] })
	if err != nil {
		return err
	}
	client := s3store.NewClient(c.S3Options())
	at := c.S3Endpoint
	if at == "" {
		at = "AWS S3 (" + c.S3Region + ")"
	}
	buckets := [][2]string{{"IMAGE_BUCKET", c.ImageBucket}, {"THUMB_BUCKET", c.ThumbBucket}}
	if !c.Cache {
		buckets = buckets[:1]
	}
	// fault says which setting is wrong; nil with a warning printed when
	// the check cannot tell.
	fault := func(name, bucket string, err error) (stop bool, _ error) {
		var ce *s3store.CheckError
		errors.As(err, &ce)
		code := ""
		if ce != nil {
			code = ce.Code
		}
		switch {
		case ce != nil && ce.Unreachable:
			endpoint := "S3_ENDPOINT=" + c.S3Endpoint
			if c.S3Endpoint == "" {
				endpoint = "AWS S3"
			}
			r.say("WARNING: %s cannot be reached from here (%v): the S3 settings are not checked; the function must reach it from where IronFunctions runs it", endpoint, ce.Cause)
			return true, nil
		case errors.Is(err, store.ErrNoBucket):
			return true, fmt.Errorf("deploy: %s=%s: no such bucket at %s: create it, or fix %s in %s", name, bucket, at, name, t.where(name))
		case code == "AccessDenied" && ce.Op == "list":
			r.say("WARNING: %s=%s: S3_ACCESS_KEY may not list it at %s (AccessDenied), so whether it exists is not checked; the function needs s3:GetObject on it", name, bucket, at)
			return false, nil
		case code == "AccessDenied":
			return true, fmt.Errorf("deploy: %s=%s: S3_ACCESS_KEY may not write to it at %s (AccessDenied): grant it s3:PutObject on %s, or set THUMB_CACHE=off in %s", name, bucket, at, bucket, t.where("THUMB_CACHE"))
		case code == "AuthorizationHeaderMalformed":
			return true, fmt.Errorf("deploy: S3_REGION=%s: refused by %s: %s: fix it in %s", c.S3Region, at, code, t.where("S3_REGION"))
		case errors.Is(err, store.ErrDenied):
			return true, fmt.Errorf("deploy: S3_ACCESS_KEY/S3_SECRET_KEY: refused by %s: %s: fix them in %s", at, code, t.where("S3_ACCESS_KEY", "S3_SECRET_KEY"))
		}
		return true, fmt.Errorf("deploy: %s=%s at %s: %w", name, bucket, at, err)
	}
	for _, b := range buckets {
		bucket := s3store.New(client, b[1])
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		err := bucket.CheckRead(cctx)
		cancel()
		if err != nil {
			if stop, err := fault(b[0], b[1], err); stop || err != nil {
				return err
			}
			continue
		}
		r.say("S3 at %s: %s=%s found", at, b[0], b[1])
	}
	if !c.Cache {
		r.say("S3 at %s: THUMB_BUCKET=%s not checked: with THUMB_CACHE=off the function does not use it", at, c.ThumbBucket)
		return nil
	}
	if r.o.DryRun {
		r.say("S3 at %s: THUMB_BUCKET=%s not written to in a dry run", at, c.ThumbBucket)
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	key, err := s3store.New(client, c.ThumbBucket).CheckWrite(cctx)
	cancel()
	var ce *s3store.CheckError
	if errors.As(err, &ce) && ce.Op == "delete" {
		r.say("WARNING: THUMB_BUCKET=%s takes writes, but the probe %s could not be deleted (%s): delete it by hand", c.ThumbBucket, key, ce.Code)
		return nil
	}
	if err != nil {
		_, err := fault("THUMB_BUCKET", c.ThumbBucket, err)
		return err
	}
	r.say("S3 at %s: THUMB_BUCKET=%s takes writes (put and deleted %s)", at, c.ThumbBucket, key)
	return nil
}
