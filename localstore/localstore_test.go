package localstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/iron-thumbs/iron_thumbs/localstore"
	"github.com/iron-thumbs/iron_thumbs/store"
	"github.com/iron-thumbs/iron_thumbs/store/storetest"
)

func open(t *testing.T, dir string) *localstore.Dir {
	t.Helper()
	d, err := localstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return open(t, t.TempDir()) })
}

func TestStaysInsideRoot(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	root := filepath.Join(parent, "images")
	os.Mkdir(root, 0o755)
	os.WriteFile(filepath.Join(parent, "secret.png"), []byte("secret"), 0o644)
	os.Mkdir(filepath.Join(parent, "images2"), 0o755)
	os.WriteFile(filepath.Join(parent, "images2", "x.png"), []byte("x"), 0o644)
	os.Symlink(filepath.Join(parent, "secret.png"), filepath.Join(root, "link.png"))
	d := open(t, root)
	for _, key := range []string{"../secret.png", "../images2/x.png", "link.png", "a/../../secret.png"} {
		obj, err := d.Get(ctx, key)
		if err == nil {
			obj.Body.Close()
			t.Errorf("Get(%q) succeeded, want it refused", key)
		} else if !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	if err := d.Put(ctx, "../escape.png", []byte("x"), "image/png", nil); err == nil {
		t.Error("Put(../escape.png) succeeded")
	}
	if _, err := os.Stat(filepath.Join(parent, "escape.png")); err == nil {
		t.Error("a file was written outside the root")
	}
}

func TestReservedFolder(t *testing.T) {
	d := open(t, t.TempDir())
	err := d.Put(context.Background(), ".iron_thumbs/meta/x.json", []byte("{}"), "", nil)
	if !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("Put into the reserved folder = %v, want ErrInvalidKey", err)
	}
}

func TestContentTypeFromExtension(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cat.png"), []byte("png"), 0o644)
	obj, err := open(t, dir).Get(context.Background(), "cat.png")
	if err != nil {
		t.Fatal(err)
	}
	obj.Body.Close()
	if obj.ContentType != "image/png" {
		t.Errorf("ContentType = %q, want image/png", obj.ContentType)
	}
}
