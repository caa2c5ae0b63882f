// Package storetest is one test suite that every store implementation
// passes, so the handler can rely on the same behaviour from all of them.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/iron-thumbs/iron_thumbs/store"
)

// Store is what the suite exercises.
type Store interface {
	Get(ctx context.Context, key string) (*store.Object, error)
	Head(ctx context.Context, key string) (*store.Object, error)
	ListDirs(ctx context.Context, prefix string) ([]string, error)
	Put(ctx context.Context, key string, body []byte, contentType string, meta map[string]string) error
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string) ([]string, error)
	Walk(ctx context.Context, prefix string, fn func(store.Item) error) error
}

// Run runs the suite. newStore returns an empty store for one subtest.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	read := func(t *testing.T, s Store, key string) (*store.Object, []byte) {
		t.Helper()
		obj, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		defer obj.Body.Close()
		b, err := io.ReadAll(obj.Body)
		if err != nil {
			t.Fatalf("reading %q: %v", key, err)
		}
		if obj.Size != int64(len(b)) {
			t.Errorf("Get(%q).Size = %d, body has %d bytes", key, obj.Size, len(b))
		}
		return obj, b
	}

	t.Run("RoundTrip", func(t *testing.T) {
		s := newStore(t)
		body := bytes.Repeat([]byte("thumbnail\x00\xff"), 1000)
		meta := map[string]string{"thumb-etag": `"abc"`, "source-etag": "def"}
		if err := s.Put(ctx, "v1/180/cat.png", body, "image/png", meta); err != nil {
			t.Fatal(err)
		}
		obj, got := read(t, s, "v1/180/cat.png")
		if !bytes.Equal(got, body) {
			t.Errorf("body differs: got %d bytes, want %d", len(got), len(body))
		}
		if obj.ContentType != "image/png" {
			t.Errorf("ContentType = %q, want image/png", obj.ContentType)
		}
		for k, v := range meta {
			if obj.Meta[k] != v {
				t.Errorf("Meta[%q] = %q, want %q", k, obj.Meta[k], v)
			}
		}
		if obj.ETag == "" {
			t.Error("ETag is empty")
		}
		head, err := s.Head(ctx, "v1/180/cat.png")
		if err != nil || head.Size != int64(len(body)) || head.ETag != obj.ETag || head.Meta["thumb-etag"] != `"abc"` || head.ContentType != "image/png" {
			t.Errorf("Head = %+v, %v; want what Get said", head, err)
		}
		if _, err := s.Head(ctx, "v1/180/none.png"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Head(missing) = %v, want ErrNotFound", err)
		}
	})

	t.Run("Missing", func(t *testing.T) {
		s := newStore(t)
		for _, key := range []string{"nothing.png", "no/such/folder/x.png"} {
			if _, err := s.Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get(%q) = %v, want ErrNotFound", key, err)
			}
		}
		// A folder is not an object.
		if err := s.Put(ctx, "dir/a.png", []byte("a"), "image/png", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "dir"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(dir) = %v, want ErrNotFound", err)
		}
	})

	t.Run("Keys", func(t *testing.T) {
		s := newStore(t)
		keys := []string{
			"with space.png", "ünïcödé/猫.png", "a/b/c/deep.png", "plus+sign.png",
			"percent%20.png", "question?.png", "hash#.png", "quote'\".png",
		}
		for _, key := range keys {
			if err := s.Put(ctx, key, []byte(key), "image/png", nil); err != nil {
				t.Errorf("Put(%q): %v", key, err)
				continue
			}
			if _, got := read(t, s, key); string(got) != key {
				t.Errorf("Get(%q) = %q", key, got)
			}
		}
	})

	t.Run("RefusedKey", func(t *testing.T) {
		s := newStore(t)
		long := strings.Repeat("a", 300) + ".png" // longer than a file name may be
		err := s.Put(ctx, "v1/180/"+long, []byte("x"), "image/png", nil)
		if !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Put(long segment) = %v, want ErrInvalidKey", err)
		}
		if _, err := s.Get(ctx, long); !errors.Is(err, store.ErrInvalidKey) && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(long segment) = %v, want ErrInvalidKey or ErrNotFound", err)
		}
	})

	t.Run("Overwrite", func(t *testing.T) {
		s := newStore(t)
		for _, body := range []string{"first version, longer", "second"} {
			if err := s.Put(ctx, "k.png", []byte(body), "image/png", nil); err != nil {
				t.Fatal(err)
			}
			if _, got := read(t, s, "k.png"); string(got) != body {
				t.Errorf("after Put(%q) Get = %q", body, got)
			}
		}
	})

	t.Run("ConcurrentWriters", func(t *testing.T) {
		s := newStore(t)
		a := bytes.Repeat([]byte{'a'}, 64<<10)
		b := bytes.Repeat([]byte{'b'}, 32<<10)
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Go(func() {
				body, name := a, "a"
				if i%2 == 1 {
					body, name = b, "b"
				}
				if err := s.Put(ctx, "same.png", body, "image/png", map[string]string{"writer": name}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		obj, got := read(t, s, "same.png")
		if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
			t.Errorf("object is a mix of writers: %d bytes", len(got))
		}
		if want := map[bool]string{true: "a", false: "b"}[bytes.Equal(got, a)]; obj.Meta["writer"] != want {
			t.Errorf("bytes of writer %s carry the metadata of writer %q", want, obj.Meta["writer"])
		}
	})

	t.Run("DeleteAndList", func(t *testing.T) {
		s := newStore(t)
		for _, k := range []string{"v1/90/a.png", "v1/180/a.png", "v1/180/ab.png", "v1/180/dir/a.png", "other.png"} {
			if err := s.Put(ctx, k, []byte(k), "image/png", nil); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.List(ctx, "v1/180/")
		if err != nil {
			t.Fatal(err)
		}
		want := "v1/180/a.png v1/180/ab.png v1/180/dir/a.png"
		if strings.Join(got, " ") != want {
			t.Errorf("List(v1/180/) = %q, want %q", got, want)
		}
		var walked []string
		err = s.Walk(ctx, "v1/180/", func(it store.Item) error {
			walked = append(walked, it.Key)
			head, err := s.Head(ctx, it.Key)
			if err != nil || head.ETag != it.ETag || head.Size != it.Size {
				t.Errorf("Walk gave %+v, Head says %+v (%v)", it, head, err)
			}
			return nil
		})
		if err != nil || strings.Join(walked, " ") != want {
			t.Errorf("Walk(v1/180/) = %q, %v; want %q", walked, err, want)
		}
		stop := errors.New("enough")
		n := 0
		if err := s.Walk(ctx, "", func(store.Item) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
			t.Errorf("Walk stopped by its func: %v after %d items", err, n)
		}
		dirs, err := s.ListDirs(ctx, "v1/")
		if err != nil || strings.Join(dirs, " ") != "180 90" {
			t.Errorf("ListDirs(v1/) = %q, %v; want [180 90]", dirs, err)
		}
		if err := s.Delete(ctx, "v1/180/a.png"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "v1/180/a.png"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get after Delete = %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "v1/180/a.png"); err != nil {
			t.Errorf("second Delete = %v, want nil", err)
		}
	})
}
