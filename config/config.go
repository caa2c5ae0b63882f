// Package config reads the function's settings from the environment once,
// applies defaults and validates them.
//
// The variable names are those of the 2017 prototype where it had one, so
// its deployments carry over. IronFunctions passes app and route config to
// the function as environment variables (`s3-endpoint` becomes
// `S3_ENDPOINT`).
package config

import (
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iron-thumbs/iron_thumbs/s3store"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

// Config is every setting of the function. The zero value is not useful:
// start from Default or FromEnv.
type Config struct {
	// ImageBucket holds the originals (IMAGE_BUCKET, default "images").
	ImageBucket string
	// ThumbBucket holds the thumbnails (THUMB_BUCKET, default "thumbs").
	ThumbBucket string

	// S3Endpoint is the S3 server's base URL (S3_ENDPOINT); empty means AWS S3.
	S3Endpoint string
	// S3Region is the signing region (S3_REGION, default "us-east-1").
	S3Region string
	// S3AccessKey and S3SecretKey are static credentials (S3_ACCESS_KEY,
	// S3_SECRET_KEY). Both are required for the S3 store.
	S3AccessKey string
	S3SecretKey string
	// S3MaxAttempts bounds the tries of one S3 request that failed with a
	// retryable error (S3_MAX_ATTEMPTS, default 3).
	S3MaxAttempts int
	// S3ConnectTimeout bounds connecting to the S3 server
	// (S3_CONNECT_TIMEOUT, Go duration, default 2s).
	S3ConnectTimeout time.Duration

	// Cache reads and writes the thumbs bucket (THUMB_CACHE, "on" or
	// "off", default "on"). Off makes every thumbnail anew and stores
	// nothing: the 2017 benchmark's "always make" mode.
	Cache bool
	// MaxWidth is the largest thumbnail width asked for (THUMB_MAX_SIZE,
	// default 2048).
	MaxWidth int
	// Sizes, when not empty, are the only widths allowed (THUMB_SIZES,
	// e.g. "90,180,360"; default: any up to MaxWidth).
	Sizes []int
	// CallTimeout bounds every call (CALL_TIMEOUT, Go duration, default
	// 10s, under the route's 30s timeout).
	CallTimeout time.Duration
	// CacheControl is sent with every thumbnail (THUMB_CACHE_CONTROL,
	// default "public, max-age=86400").
	CacheControl string
	// MaxSourceBytes bounds the original's size (MAX_SOURCE_BYTES,
	// default 50 MiB).
	MaxSourceBytes int64
	// MaxSourcePixels bounds the original's width×height, checked from its
	// header (MAX_SOURCE_PIXELS, default 50,000,000).
	MaxSourcePixels int64
	// MaxThumbPixels bounds a thumbnail's width×height, upright, checked
	// from the original's header before it is decoded (THUMB_MAX_PIXELS,
	// default THUMB_MAX_SIZE squared: 4,194,304 for 2048).
	MaxThumbPixels int64
	// JPEGQuality is the quality of JPEG thumbnails (JPEG_QUALITY, 1-100,
	// default 85).
	JPEGQuality int
	// Concurrency bounds the transforms running at once where one process
	// serves calls concurrently, the local server (THUMB_CONCURRENCY,
	// default the number of CPUs).
	Concurrency int
	// SigningKey, when set, makes every call carry a valid signature
	// (SIGNING_KEY).
	SigningKey string
	// Freshness checks on every hit that the original is unchanged (one
	// HEAD) and remakes a stale thumbnail (THUMB_FRESHNESS, "on" or "off",
	// default "off": a hit stays one GET).
	Freshness bool
	// LogFormat is the log's format (LOG_FORMAT, "text" or "json", default
	// "text").
	LogFormat string
}

// Default returns the settings used when the environment says nothing.
func Default() Config {
	return Config{
		ImageBucket:      "images",
		ThumbBucket:      "thumbs",
		S3Region:         "us-east-1",
		S3MaxAttempts:    3,
		S3ConnectTimeout: 2 * time.Second,
		Cache:            true,
		MaxWidth:         2048,
		CallTimeout:      10 * time.Second,
		CacheControl:     "public, max-age=86400",
		MaxSourceBytes:   50 << 20,
		MaxSourcePixels:  50_000_000,
		JPEGQuality:      85,
		Concurrency:      runtime.NumCPU(),
		LogFormat:        "text",
	}
}

// SettingError is a setting that is wrong. Its message names the setting
// and the problem, never the value, which may hold a secret (an endpoint
// with user:password@): clients of a hot route read it.
type SettingError struct {
	Name    string
	Problem string
	// Value is what was set; Redacted shows it without credentials.
	Value string
}

func (e *SettingError) Error() string { return e.Name + ": " + e.Problem }

// Redacted returns NAME=value for a log: secrets hidden, user:password@
// removed from URLs.
func (e *SettingError) Redacted() string {
	v := e.Value
	switch {
	case Secret(e.Name):
		v = "(secret)"
	case strings.Contains(v, "@"):
		if u, err := url.Parse(v); err == nil && u.User != nil {
			u.User = nil
			v = u.String()
		} else if scheme, rest, ok := strings.Cut(v, "://"); ok {
			_, host, _ := strings.Cut(rest, "@")
			v = scheme + "://" + host
		} else {
			v = "(hidden)"
		}
	}
	return fmt.Sprintf("%s=%q", e.Name, v)
}

func bad(name, problem string, value any) error {
	return &SettingError{Name: name, Problem: problem, Value: fmt.Sprint(value)}
}

// Redacted lists the values of the settings err names, credentials
// removed, for the log: "THUMB_CACHE=\"maybe\"".
func Redacted(err error) string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		var se *SettingError
		switch {
		case err == nil:
		case errors.As(err, &se) && errors.Unwrap(err) == nil:
			out = append(out, se.Redacted())
		default:
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range j.Unwrap() {
					walk(e)
				}
			} else {
				walk(errors.Unwrap(err))
			}
		}
	}
	walk(err)
	return strings.Join(out, " ")
}

// FromEnv returns Default overridden by the environment, validated.
// getenv is os.Getenv in production.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Default()
	var errs []error
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	integer := func(name string, dst *int64) {
		if v := getenv(name); v != "" {
			n, err := strconv.ParseInt(strings.ReplaceAll(v, "_", ""), 10, 64)
			if err != nil || n < 1 {
				errs = append(errs, bad(name, "want a positive integer", v))
				return
			}
			*dst = n
		}
	}
	small := func(name string, dst *int) {
		n := int64(*dst)
		integer(name, &n)
		if n > 1<<30 {
			errs = append(errs, bad(name, "too large", n))
			return
		}
		*dst = int(n)
	}
	str("IMAGE_BUCKET", &c.ImageBucket)
	str("THUMB_BUCKET", &c.ThumbBucket)
	str("S3_ENDPOINT", &c.S3Endpoint)
	str("S3_REGION", &c.S3Region)
	str("S3_ACCESS_KEY", &c.S3AccessKey)
	str("S3_SECRET_KEY", &c.S3SecretKey)
	str("THUMB_CACHE_CONTROL", &c.CacheControl)
	str("SIGNING_KEY", &c.SigningKey)
	str("LOG_FORMAT", &c.LogFormat)
	onOff := func(name string, dst *bool) {
		switch v := strings.ToLower(getenv(name)); v {
		case "":
		case "on", "true", "1":
			*dst = true
		case "off", "false", "0":
			*dst = false
		default:
			errs = append(errs, bad(name, "want on or off", v))
		}
	}
	onOff("THUMB_CACHE", &c.Cache)
	onOff("THUMB_FRESHNESS", &c.Freshness)
	small("THUMB_MAX_SIZE", &c.MaxWidth)
	small("JPEG_QUALITY", &c.JPEGQuality)
	small("THUMB_CONCURRENCY", &c.Concurrency)
	small("S3_MAX_ATTEMPTS", &c.S3MaxAttempts)
	integer("MAX_SOURCE_BYTES", &c.MaxSourceBytes)
	integer("MAX_SOURCE_PIXELS", &c.MaxSourcePixels)
	c.MaxThumbPixels = int64(c.MaxWidth) * int64(c.MaxWidth)
	integer("THUMB_MAX_PIXELS", &c.MaxThumbPixels)
	duration := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, bad(name, "want a Go duration such as 10s", v))
			}
			*dst = d
		}
	}
	duration("CALL_TIMEOUT", &c.CallTimeout)
	duration("S3_CONNECT_TIMEOUT", &c.S3ConnectTimeout)
	if v := getenv("THUMB_SIZES"); v != "" {
		sizes, err := ParseSizes(v)
		if err != nil {
			errs = append(errs, bad("THUMB_SIZES", "want widths like 90,180,360", v))
		}
		c.Sizes = sizes
	}
	if len(errs) == 0 {
		errs = append(errs, c.Validate())
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// Validate reports settings that cannot work together.
func (c Config) Validate() error {
	var errs []error
	if c.ImageBucket == "" || c.ThumbBucket == "" {
		errs = append(errs, bad("IMAGE_BUCKET", "IMAGE_BUCKET and THUMB_BUCKET must not be empty", ""))
	}
	if c.ImageBucket == c.ThumbBucket && c.ImageBucket != "" {
		// Thumbnail keys would read as originals, and purge and freshness
		// would touch originals.
		errs = append(errs, bad("THUMB_BUCKET", "must differ from IMAGE_BUCKET: thumbnails and originals need buckets of their own", c.ThumbBucket))
	}
	if c.MaxWidth < 1 {
		errs = append(errs, bad("THUMB_MAX_SIZE", "must be positive", c.MaxWidth))
	}
	for _, s := range c.Sizes {
		if s > c.MaxWidth {
			errs = append(errs, bad("THUMB_SIZES", fmt.Sprintf("%d is above THUMB_MAX_SIZE (%d)", s, c.MaxWidth), s))
		}
	}
	if c.MaxThumbPixels < 1 {
		errs = append(errs, bad("THUMB_MAX_PIXELS", "must be positive", c.MaxThumbPixels))
	}
	if c.CallTimeout <= 0 || c.CallTimeout > 5*time.Minute {
		errs = append(errs, bad("CALL_TIMEOUT", "want more than 0 and at most 5m", c.CallTimeout))
	}
	if c.S3ConnectTimeout <= 0 || c.S3ConnectTimeout > time.Minute {
		errs = append(errs, bad("S3_CONNECT_TIMEOUT", "want more than 0 and at most 1m", c.S3ConnectTimeout))
	}
	if c.S3MaxAttempts < 1 || c.S3MaxAttempts > 10 {
		errs = append(errs, bad("S3_MAX_ATTEMPTS", "want 1 to 10", c.S3MaxAttempts))
	}
	if c.JPEGQuality < 1 || c.JPEGQuality > 100 {
		errs = append(errs, bad("JPEG_QUALITY", "want 1 to 100", c.JPEGQuality))
	}
	if c.Concurrency < 1 {
		errs = append(errs, bad("THUMB_CONCURRENCY", "must be positive", c.Concurrency))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, bad("LOG_FORMAT", "want text or json", c.LogFormat))
	}
	if c.MaxSourceBytes < 1 || c.MaxSourcePixels < 1 {
		errs = append(errs, bad("MAX_SOURCE_BYTES", "MAX_SOURCE_BYTES and MAX_SOURCE_PIXELS must be positive", ""))
	}
	return errors.Join(errs...)
}

// Handler returns the thumbnail handler's options: the settings of a call,
// without the storage settings. MaxTransforms is left to the door.
func (c Config) Handler() thumbs.Options {
	return thumbs.Options{
		Cache:           c.Cache,
		MaxWidth:        c.MaxWidth,
		Sizes:           c.Sizes,
		CallTimeout:     c.CallTimeout,
		CacheControl:    c.CacheControl,
		MaxSourceBytes:  c.MaxSourceBytes,
		MaxSourcePixels: c.MaxSourcePixels,
		MaxThumbPixels:  c.MaxThumbPixels,
		JPEGQuality:     c.JPEGQuality,
		SigningKey:      c.SigningKey,
		Freshness:       c.Freshness,
	}
}

// CheckS3 reports what is missing for the S3 store. A function started by
// IronFunctions must be given its S3 settings in the app's config.
func (c Config) CheckS3() error {
	var missing []string
	if c.S3AccessKey == "" {
		missing = append(missing, "S3_ACCESS_KEY")
	}
	if c.S3SecretKey == "" {
		missing = append(missing, "S3_SECRET_KEY")
	}
	if len(missing) > 0 {
		return fmt.Errorf("config: no S3 configuration: set %s (and S3_ENDPOINT unless the store is AWS S3) in the app's config",
			strings.Join(missing, " and "))
	}
	if c.S3Endpoint != "" {
		u, err := url.Parse(c.S3Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("config: %w", bad("S3_ENDPOINT", "want a URL starting with http:// or https://", c.S3Endpoint))
		}
		if u.User != nil {
			return fmt.Errorf("config: %w", bad("S3_ENDPOINT", "holds credentials: set S3_ACCESS_KEY and S3_SECRET_KEY instead", c.S3Endpoint))
		}
	}
	return nil
}

// Names are the environment variables FromEnv reads: the settings a
// deployment manages in the IronFunctions app's config.
var Names = []string{
	"IMAGE_BUCKET", "THUMB_BUCKET",
	"S3_ENDPOINT", "S3_REGION", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_MAX_ATTEMPTS", "S3_CONNECT_TIMEOUT",
	"THUMB_CACHE", "THUMB_MAX_SIZE", "THUMB_MAX_PIXELS", "THUMB_SIZES", "CALL_TIMEOUT", "THUMB_CACHE_CONTROL",
	"MAX_SOURCE_BYTES", "MAX_SOURCE_PIXELS", "JPEG_QUALITY", "THUMB_CONCURRENCY", "SIGNING_KEY",
	"THUMB_FRESHNESS", "LOG_FORMAT",
}

// Secret reports whether a setting's value must never be printed or logged.
func Secret(name string) bool {
	switch name {
	case "S3_ACCESS_KEY", "S3_SECRET_KEY", "SIGNING_KEY":
		return true
	}
	return false
}

// ParseSizes reads a comma-separated list of widths, as THUMB_SIZES and
// warm's -sizes take them: sorted, each once.
func ParseSizes(v string) ([]int, error) {
	var sizes []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("config: %q is not a width", f)
		}
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	return slices.Compact(sizes), nil
}

// S3Options are the settings of an S3 client for this configuration.
func (c Config) S3Options() s3store.Options {
	return s3store.Options{
		Endpoint: c.S3Endpoint, Region: c.S3Region, AccessKey: c.S3AccessKey, SecretKey: c.S3SecretKey,
		MaxAttempts: c.S3MaxAttempts, DialTimeout: c.S3ConnectTimeout,
	}
}
