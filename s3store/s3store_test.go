package s3store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// TestWrongCredentials: a refused secret, and an access key the server
// does not know (Versity answers XAdminUserNotFound with a 404), are
// refusals, never "not found".
func TestWrongCredentials(t *testing.T) {
	srv := s3test.Start(t, "images")
	for _, c := range []struct{ name, access, secret string }{
		{"wrong secret", srv.AccessKey, "wrong-secret"},
		{"unknown access key", "no-such-user", srv.SecretKey},
	} {
		o := srv.Options()
		o.AccessKey, o.SecretKey = c.access, c.secret
		b := s3store.New(s3store.NewClient(o), "images")
		_, err := b.Get(context.Background(), "a.png")
		if !errors.Is(err, store.ErrDenied) {
			t.Errorf("%s: Get = %v, want ErrDenied", c.name, err)
		}
		if err != nil && strings.Contains(err.Error(), "wrong-secret") {
			t.Errorf("%s: error shows the secret: %v", c.name, err)
		}
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
