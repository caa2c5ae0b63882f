package s3store_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iron-thumbs/iron_thumbs/internal/s3test"
	"github.com/iron-thumbs/iron_thumbs/s3store"
	"github.com/iron-thumbs/iron_thumbs/store"
)

func TestCheckReadAndWrite(t *testing.T) {
	srv := s3test.Start(t, "thumbs")
	b := s3store.New(srv.Client(), "thumbs")
	ctx := context.Background()
	if err := b.CheckRead(ctx); err != nil {
		t.Fatal(err)
	}
	key, err := b.CheckWrite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, s3store.CheckPrefix) || len(key) <= len(s3store.CheckPrefix) || strings.HasPrefix(key, "v") {
		t.Errorf("probe key %q, want one under %s", key, s3store.CheckPrefix)
	}
	if left, err := b.List(ctx, ""); err != nil || len(left) != 0 {
		t.Errorf("after the check the bucket holds %q (%v), want nothing", left, err)
	}
	if key2, _ := b.CheckWrite(ctx); key2 == key {
		t.Errorf("two checks used the same key %q", key)
	}
}

// TestCheckRefusals: what the checks tell from a real server's answers.
func TestCheckRefusals(t *testing.T) {
	srv, reader := s3test.StartWithReader(t, "images", "thumbs")
	wrongSecret := srv.Options()
	wrongSecret.SecretKey = "wrong-secret"
	unknownKey := srv.Options()
	unknownKey.AccessKey = "nobody"
	cases := []struct {
		name   string
		o      s3store.Options
		bucket string
		write  bool
		kind   error
		op     string
		code   string
	}{
		{"wrong secret", wrongSecret, "images", false, store.ErrDenied, "list", "SignatureDoesNotMatch"},
		{"unknown access key", unknownKey, "images", false, store.ErrDenied, "list", "InvalidAccessKeyId"},
		{"missing bucket", srv.Options(), "thumbz", false, store.ErrNoBucket, "list", "NoSuchBucket"},
		{"missing bucket, write", srv.Options(), "thumbz", true, store.ErrNoBucket, "put", "NoSuchBucket"},
		{"read-only user writes", reader, "thumbs", true, store.ErrDenied, "put", "AccessDenied"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := s3store.New(s3store.NewClient(c.o), c.bucket)
			var err error
			if c.write {
				_, err = b.CheckWrite(context.Background())
			} else {
				err = b.CheckRead(context.Background())
			}
			var ce *s3store.CheckError
			if !errors.As(err, &ce) || !errors.Is(err, c.kind) || ce.Op != c.op || ce.Code != c.code || ce.Unreachable {
				t.Fatalf("got %v (%+v), want %s on %s with code %s", err, ce, c.kind, c.op, c.code)
			}
			if strings.Contains(err.Error(), "wrong-secret") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
	// The reader may read: the refusal above is the write's alone.
	b := s3store.New(s3store.NewClient(reader), "thumbs")
	if err := b.CheckRead(context.Background()); err != nil {
		t.Errorf("the reader cannot list: %v", err)
	}
	if keys, err := s3store.New(srv.Client(), "thumbs").List(context.Background(), ""); err != nil || len(keys) != 0 {
		t.Errorf("thumbs holds %q after refused writes (%v)", keys, err)
	}
}

// TestCheckUnreachable: no answer at all is told apart from an answer
// that refuses, and found out quickly.
func TestCheckUnreachable(t *testing.T) {
	srv := s3test.Start(t, "images")
	srv.Stop()
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream down", http.StatusBadGateway)
	}))
	defer broken.Close()
	cases := []struct {
		name        string
		endpoint    string
		unreachable bool
		cause       string
	}{
		{"connection refused", srv.Endpoint, true, "connection refused"},
		{"unknown host", "http://minio.invalid:9000", true, "minio.invalid"},
		{"no answer", "http://" + silent.Addr().String(), true, "no answer"},
		{"an answer, if a bad one", broken.URL, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := srv.Options()
			o.Endpoint, o.MaxAttempts = c.endpoint, 1
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := s3store.New(s3store.NewClient(o), "images").CheckRead(ctx)
			var ce *s3store.CheckError
			if !errors.As(err, &ce) || ce.Unreachable != c.unreachable || (ce.Cause != nil) != c.unreachable {
				t.Fatalf("CheckRead = %v (%+v), want Unreachable %v", err, ce, c.unreachable)
			}
			if c.unreachable && !strings.Contains(ce.Cause.Error(), c.cause) {
				t.Errorf("Cause = %q, want it to say %q", ce.Cause, c.cause)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
