package s3store_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iron-thumbs/iron_thumbs/internal/s3test"
	"github.com/iron-thumbs/iron_thumbs/s3store"
	"github.com/iron-thumbs/iron_thumbs/store"
	"github.com/iron-thumbs/iron_thumbs/store/storetest"
)

func TestSuite(t *testing.T) {
	srv := s3test.Start(t)
	client := srv.Client()
	var n atomic.Int32
	storetest.Run(t, func(t *testing.T) storetest.Store {
		name := fmt.Sprintf("suite-%d", n.Add(1))
		if err := srv.CreateBucket(name); err != nil {
			t.Fatal(err)
		}
		return s3store.New(client, name)
	})
}

func TestMissingBucket(t *testing.T) {
	srv := s3test.Start(t)
	b := s3store.New(srv.Client(), "no-such-bucket")
	if _, err := b.Get(context.Background(), "a.png"); !errors.Is(err, store.ErrNoBucket) {
		t.Errorf("Get = %v, want ErrNoBucket", err)
	}
}

func TestWrongCredentials(t *testing.T) {
	srv := s3test.Start(t, "images")
	o := srv.Options()
	o.SecretKey = "wrong"
	b := s3store.New(s3store.NewClient(o), "images")
	_, err := b.Get(context.Background(), "a.png")
	if !errors.Is(err, store.ErrDenied) {
		t.Errorf("Get = %v, want ErrDenied", err)
	}
	if err != nil && contains(err.Error(), "wrong") {
		t.Errorf("error shows the secret: %v", err)
	}
}

func TestServerDownIsUnavailableAndFast(t *testing.T) {
	srv := s3test.Start(t, "images")
	srv.Stop()
	b := s3store.New(srv.Client(), "images")
	start := time.Now()
	_, err := b.Get(context.Background(), "a.png")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Get = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("storage down answered after %v, want well under the route timeout", d)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
