// Package s3store reads and writes objects in one bucket of any
// S3-compatible server (AWS S3, MinIO, SeaweedFS, Versity, Garage...)
// through the AWS SDK for Go v2.
//
// The client is built from explicit settings only: a custom endpoint,
// path-style addressing, static credentials and checksums only where the
// API requires them. It never reads shared config files and never asks the
// instance-metadata service, which would stall a cold start.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/iron-thumbs/iron_thumbs/store"
)

// Options configure the connection to the S3 server.
type Options struct {
	// Endpoint is the server's base URL, e.g. http://127.0.0.1:7070.
	// Empty means AWS S3 itself.
	Endpoint string
	// Region is the signing region; "us-east-1" when empty.
	Region    string
	AccessKey string
	SecretKey string
	// MaxAttempts bounds the tries of one request that failed with a
	// retryable error (5xx, throttling, broken connection); 3 when zero.
	MaxAttempts int
	// DialTimeout bounds the TCP connect, so a server that is down is
	// reported quickly; 2s when zero.
	DialTimeout time.Duration
}

// NewClient returns an S3 client for the options.
func NewClient(o Options) *s3.Client {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 3
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 2 * time.Second
	}
	transport := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	retryer := retry.NewStandard(func(r *retry.StandardOptions) {
		r.MaxAttempts = o.MaxAttempts
		r.MaxBackoff = 500 * time.Millisecond
		// No retry quota: one failing burst must not disable retries for
		// the rest of a hot container's life.
		r.RateLimiter = ratelimit.None
		// A connect that is refused or not answered is not retried: the
		// server is down or unreachable, and the caller is answered 503
		// within the dial timeout instead of waiting out its deadline.
		r.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(noDialRetry)}, r.Retryables...)
	})
	opts := s3.Options{
		Region:                     o.Region,
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		HTTPClient:                 &http.Client{Transport: transport},
		Retryer:                    retryer,
	}
	if o.Endpoint != "" {
		opts.BaseEndpoint = aws.String(o.Endpoint)
	}
	return s3.New(opts)
}

// noDialRetry says a failed connect is not retryable, and leaves every
// other error to the standard rules.
func noDialRetry(err error) aws.Ternary {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
}

// Bucket is one bucket of an S3 server.
type Bucket struct {
	client *s3.Client
	name   string
}

// New returns the bucket name reached through client.
func New(client *s3.Client, name string) *Bucket {
	return &Bucket{client: client, name: name}
}

// Name returns the bucket's name.
func (b *Bucket) Name() string { return b.name }

// String names the bucket, for logs.
func (b *Bucket) String() string { return "s3:" + b.name }

// Get opens the object at key; its body streams from the server.
func (b *Bucket) Get(ctx context.Context, key string) (*store.Object, error) {
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.name, Key: &key})
	if err != nil {
		return nil, b.mapErr(ctx, "get", key, err)
	}
	obj := &store.Object{
		Body:        out.Body,
		Size:        aws.ToInt64(out.ContentLength),
		ContentType: aws.ToString(out.ContentType),
		ETag:        strings.Trim(aws.ToString(out.ETag), `"`),
		Meta:        lower(out.Metadata),
	}
	return obj, nil
}

// Head returns the object's size, type, ETag and metadata without its body.
func (b *Bucket) Head(ctx context.Context, key string) (*store.Object, error) {
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.name, Key: &key})
	if err != nil {
		return nil, b.mapErr(ctx, "head", key, err)
	}
	return &store.Object{
		Size:        aws.ToInt64(out.ContentLength),
		ContentType: aws.ToString(out.ContentType),
		ETag:        strings.Trim(aws.ToString(out.ETag), `"`),
		Meta:        lower(out.Metadata),
	}, nil
}

// Put writes the object in one PUT with its Content-Length: the server
// stores all of it or nothing.
func (b *Bucket) Put(ctx context.Context, key string, body []byte, contentType string, meta map[string]string) error {
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &b.name,
		Key:           &key,
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String(contentType),
		Metadata:      meta,
	})
	if err != nil {
		return b.mapErr(ctx, "put", key, err)
	}
	return nil
}

// Delete removes the object at key. Deleting a missing object is not an error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.name, Key: &key})
	if err != nil {
		err = b.mapErr(ctx, "delete", key, err)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}

// List returns the keys that start with prefix, in lexical order.
func (b *Bucket) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := b.Walk(ctx, prefix, func(it store.Item) error {
		keys = append(keys, it.Key)
		return nil
	})
	return keys, err
}

// Walk calls fn for each object whose key starts with prefix, in lexical
// order, a page of the listing at a time (ListObjectsV2): a bucket of any
// size is walked in bounded memory. An error from fn stops the walk and
// is returned.
func (b *Bucket) Walk(ctx context.Context, prefix string, fn func(store.Item) error) error {
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.name, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return b.mapErr(ctx, "list", prefix, err)
		}
		for _, o := range page.Contents {
			it := store.Item{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ETag: strings.Trim(aws.ToString(o.ETag), `"`)}
			if err := fn(it); err != nil {
				return err
			}
		}
	}
	return nil
}

// PresignGet returns a URL that reads the object without credentials for
// the given time.
func (b *Bucket) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	req, err := s3.NewPresignClient(b.client).PresignGetObject(ctx,
		&s3.GetObjectInput{Bucket: &b.name, Key: &key}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("s3store: presign %q: %w", key, err)
	}
	return req.URL, nil
}

// EnsureBucket creates the bucket unless it exists.
func (b *Bucket) EnsureBucket(ctx context.Context) error {
	_, err := b.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &b.name})
	var api smithy.APIError
	if err != nil && errors.As(err, &api) {
		switch api.ErrorCode() {
		case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
			return nil
		}
	}
	if err != nil {
		return b.mapErr(ctx, "create bucket", "", err)
	}
	return nil
}

func lower(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// mapErr turns an SDK error into the store's vocabulary. A context that
// ended is reported as such, so the caller can tell a deadline from an
// outage. Only S3's own word for a missing key (NoSuchKey, or the bare 404
// of a HEAD) means not found: a 404 that says anything else (Versity's
// XAdminUserNotFound for an unknown access key) is a refusal.
func (b *Bucket) mapErr(ctx context.Context, op, key string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("s3store: %s %s/%s: %w", op, b.name, key, ctxErr)
	}
	kind := store.ErrUnavailable
	var (
		dial     *net.OpError
		noKey    *types.NoSuchKey
		notFound *types.NotFound
		noBucket *types.NoSuchBucket
		api      smithy.APIError
		resp     *smithyhttp.ResponseError
	)
	switch {
	case errors.As(err, &dial) && dial.Op == "dial":
		kind = store.ErrUnreachable
	case errors.As(err, &noKey), op == "head" && errors.As(err, &notFound):
		kind = store.ErrNotFound
	case errors.As(err, &noBucket):
		kind = store.ErrNoBucket
	case errors.As(err, &api):
		switch api.ErrorCode() {
		case "NoSuchKey":
			kind = store.ErrNotFound
		case "NoSuchBucket":
			kind = store.ErrNoBucket
		case "KeyTooLongError", "InvalidURI", "InvalidObjectName", "XMinioInvalidObjectName",
			"ExistingObjectIsDirectory", "ObjectParentIsFile", "DirectoryObjectContainsData":
			kind = store.ErrInvalidKey
		default:
			if errors.As(err, &resp) {
				switch code := resp.HTTPStatusCode(); {
				case code == http.StatusBadRequest, code == http.StatusUnauthorized,
					code == http.StatusForbidden, code == http.StatusNotFound:
					// Credentials, region, signature, an unknown user:
					// ours to fix, not the client's.
					kind = store.ErrDenied
				}
			}
		}
	}
	if errors.As(err, &api) {
		return fmt.Errorf("s3store: %s %s/%s: %w: %s", op, b.name, key, kind, api.ErrorCode())
	}
	return fmt.Errorf("s3store: %s %s/%s: %w: %v", op, b.name, key, kind, err)
}

// ListDirs returns the names of the "folders" right under prefix (which
// ends with "/"): the distinct next path segments of its keys.
func (b *Bucket) ListDirs(ctx context.Context, prefix string) ([]string, error) {
	var dirs []string
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket: &b.name, Prefix: &prefix, Delimiter: aws.String("/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, b.mapErr(ctx, "list", prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			dirs = append(dirs, strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/"))
		}
	}
	return dirs, nil
}
