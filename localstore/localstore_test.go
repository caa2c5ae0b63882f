package localstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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

// TestCrashBetweenSteps kills a writing process at each step of a Put,
// over an object that had another version, then reads: the old pair or
// the new pair, whole, or nothing; never the bytes of one version with the
// metadata of another. The next Open removes the dead writer's leftovers.
func TestCrashBetweenSteps(t *testing.T) {
	if dir := os.Getenv("LOCALSTORE_CRASH_DIR"); dir != "" {
		// The writer: put version 2 and die at the step.
		d, err := localstore.Open(dir)
		if err != nil {
			os.Exit(3)
		}
		localstore.CrashAt(os.Getenv("LOCALSTORE_CRASH_STEP"), func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) })
		d.Put(context.Background(), "v3/180/cat.gif", version(2), "image/png", map[string]string{"hash": hash(version(2))})
		os.Exit(4) // not killed: the step was never reached
	}
	for _, step := range []string{"written", "meta renamed", "data renamed"} {
		dir := t.TempDir()
		d := open(t, dir)
		if err := d.Put(context.Background(), "v3/180/cat.gif", version(1), "image/png", map[string]string{"hash": hash(version(1))}); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashBetweenSteps$")
		cmd.Env = append(os.Environ(), "LOCALSTORE_CRASH_DIR="+dir, "LOCALSTORE_CRASH_STEP="+step)
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("%s: the writer was not killed at its step: %v", step, err)
		}
		d2 := open(t, dir)
		obj, err := d2.Get(context.Background(), "v3/180/cat.gif")
		switch {
		case errors.Is(err, store.ErrNotFound):
			t.Logf("%s: reads as missing", step)
		case err != nil:
			t.Errorf("%s: %v", step, err)
		default:
			b, _ := io.ReadAll(obj.Body)
			obj.Body.Close()
			if obj.Meta["hash"] != hash(b) || obj.ContentType != "image/png" {
				t.Errorf("%s: read %d bytes whose metadata is of another version (%v)", step, len(b), obj.Meta)
			}
			t.Logf("%s: reads version %d", step, b[0])
		}
		if left, _ := os.ReadDir(filepath.Join(dir, ".iron_thumbs", "tmp")); len(left) != 0 {
			t.Errorf("%s: %d temporary files left after Open", step, len(left))
		}
	}
}

// version is the bytes of version n of an object; its size is the same
// for every n, as a replacement in place would be.
func version(n byte) []byte { return bytes.Repeat([]byte{n}, 4096) }

func hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestMismatchedPairReadsMissing: metadata of another version (as a
// reader between two renames would see) makes the object read as missing.
func TestMismatchedPairReadsMissing(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir)
	ctx := context.Background()
	d.Put(ctx, "a.png", version(1), "image/png", map[string]string{"hash": hash(version(1))})
	metas, _ := filepath.Glob(filepath.Join(dir, ".iron_thumbs", "meta", "*.json"))
	if len(metas) != 1 {
		t.Fatalf("%d metadata files", len(metas))
	}
	old, _ := os.ReadFile(metas[0])
	d.Put(ctx, "a.png", version(2), "image/png", map[string]string{"hash": hash(version(2))})
	os.WriteFile(metas[0], old, 0o644)
	if _, err := d.Get(ctx, "a.png"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get with version 1's metadata on version 2's bytes = %v, want ErrNotFound", err)
	}
}

// TestReplacedInPlace: a file replaced with one of the same size and
// modification time (cp -p) gets a new ETag, so freshness sees it.
func TestReplacedInPlace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cat.png")
	os.WriteFile(p, version(1), 0o644)
	fi, _ := os.Stat(p)
	d := open(t, dir)
	a, err := d.Head(context.Background(), "cat.png")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(p, version(2), 0o644)
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	b, err := d.Head(context.Background(), "cat.png")
	if err != nil {
		t.Fatal(err)
	}
	if a.ETag == b.ETag {
		t.Errorf("same ETag %s after the file was replaced in place", a.ETag)
	}
}

// TestSpecialFilesRefused: a FIFO among the originals is refused at once,
// not waited on.
func TestSpecialFilesRefused(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.png"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := open(t, dir)
	done := make(chan error, 1)
	go func() {
		_, err := d.Get(context.Background(), "fifo.png")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(fifo) = %v, want ErrNotFound", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Get(fifo) blocked")
	}
}

// TestLongNames: a name as long as the file system allows keeps its
// metadata, whose own name does not grow with the key's.
func TestLongNames(t *testing.T) {
	d := open(t, t.TempDir())
	ctx := context.Background()
	key := "v3/180/" + strings.Repeat("n", 251) + ".gif"
	if err := d.Put(ctx, key, []byte("png bytes"), "image/png", map[string]string{"thumb-etag": "x"}); err != nil {
		t.Fatal(err)
	}
	obj, err := d.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	obj.Body.Close()
	if obj.ContentType != "image/png" || obj.Meta["thumb-etag"] != "x" {
		t.Errorf("read back %q %v", obj.ContentType, obj.Meta)
	}
	tooLong := "v3/180/" + strings.Repeat("n", 300) + ".gif"
	if err := d.Put(ctx, tooLong, []byte("x"), "image/png", nil); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("Put of a 300-byte name = %v, want ErrInvalidKey", err)
	}
	if _, err := d.Get(ctx, tooLong); err == nil {
		t.Error("a refused Put left something readable")
	}
}

// TestPutAfterDeadline: a write whose context has ended publishes nothing
// and leaves no temporary file, so a transform given up on cannot store.
func TestPutAfterDeadline(t *testing.T) {
	dir := t.TempDir()
	d, err := localstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Put(ctx, "v3/90/cat.png", []byte("png"), "image/png", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put after cancel: %v, want context.Canceled", err)
	}
	if _, err := d.Get(context.Background(), "v3/90/cat.png"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after a cancelled Put: %v, want not found", err)
	}
	var files []string
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && e.Name() != "publish.lock" {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Errorf("files left behind: %q", files)
	}
}
