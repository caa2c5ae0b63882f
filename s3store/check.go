package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// CheckPrefix is where CheckWrite puts its probe object,
// ".iron_thumbs/deploy-check/<random>". Every thumbnail key starts with
// the key version ("v2/180/cat.png", see thumbs.Request.Key), so no
// thumbnail can ever live here, and neither a purge nor a lifecycle rule
// on "v2/" meets it.
const CheckPrefix = ".iron_thumbs/deploy-check/"

// CheckError is a failed check. It wraps the store's error, so
// errors.Is(err, store.ErrNoBucket) and the like work, and says what the
// server answered, if anything.
type CheckError struct {
	// Op is what failed: "list", "put" or "delete".
	Op string
	// Code is S3's error code, e.g. "SignatureDoesNotMatch"; empty when
	// the server did not answer.
	Code string
	// Unreachable means no answer at all: connection refused, unknown
	// host, timeout. Cause then says which, e.g. "dial tcp
	// 10.0.0.9:9000: connect: connection refused".
	Unreachable bool
	Cause       error
	err         error
}

func (e *CheckError) Error() string { return e.err.Error() }

// Unwrap returns the store's error.
func (e *CheckError) Unwrap() error { return e.err }

// CheckRead asks for at most one key of the bucket (ListObjectsV2 with
// max-keys 1): an answer proves that the server accepts the credentials
// and that the bucket exists. It writes nothing.
func (b *Bucket) CheckRead(ctx context.Context) error {
	_, err := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b.name, MaxKeys: aws.Int32(1)})
	if err != nil {
		return b.checkErr(ctx, "list", "", err)
	}
	return nil
}

// CheckWrite puts a small object under CheckPrefix, then deletes it, and
// returns its key. A failed delete is a *CheckError with Op "delete": the
// bucket is writable, and the probe is left behind.
func (b *Bucket) CheckWrite(ctx context.Context) (string, error) {
	var r [8]byte
	rand.Read(r[:])
	key := CheckPrefix + hex.EncodeToString(r[:])
	body := []byte("iron_thumbs deploy check: safe to delete\n")
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &b.name,
		Key:           &key,
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String("text/plain"),
	})
	if err != nil {
		return key, b.checkErr(ctx, "put", key, err)
	}
	if _, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.name, Key: &key}); err != nil {
		return key, b.checkErr(ctx, "delete", key, err)
	}
	return key, nil
}

func (b *Bucket) checkErr(ctx context.Context, op, key string, err error) error {
	e := &CheckError{Op: op, err: b.mapErr(ctx, op, key, err)}
	var api smithy.APIError
	if errors.As(err, &api) {
		e.Code = api.ErrorCode()
	}
	var (
		send *smithyhttp.RequestSendError
		dial *net.OpError // refused, or an unknown host (a *net.DNSError inside)
		dns  *net.DNSError
		nerr net.Error
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Unreachable, e.Cause = true, errors.New("no answer before the deadline")
	case !errors.As(err, &send):
		// The server answered.
	case errors.As(err, &dial):
		e.Unreachable, e.Cause = true, dial
	case errors.As(err, &dns):
		e.Unreachable, e.Cause = true, dns
	case errors.As(err, &nerr) && nerr.Timeout():
		e.Unreachable, e.Cause = true, nerr
	}
	// Anything else that was sent and not answered (TLS, a broken
	// protocol) reached something: only a missing server is out of reach.
	return e
}
