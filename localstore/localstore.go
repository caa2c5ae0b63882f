// Package localstore keeps objects as plain files in a local folder, the
// store behind `make run` and tests that need no S3 server.
//
// Every path stays inside the folder: all access goes through os.Root, so
// neither `..` nor a symbolic link can lead out of it. Object metadata lives
// beside the files in a reserved `.iron_thumbs` folder, so the objects
// themselves stay ordinary image files a person can open.
package localstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"

	"github.com/iron-thumbs/iron_thumbs/store"
)

// reserved is the top-level folder that holds metadata and files being
// written. Keys inside it are refused.
const reserved = ".iron_thumbs"

// Dir is one folder used as one bucket.
type Dir struct {
	root *os.Root
	name string
}

// Open opens the folder dir as a bucket. The folder must exist.
func Open(dir string) (*Dir, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("localstore: %w: %v", store.ErrNoBucket, err)
	}
	return &Dir{root: r, name: dir}, nil
}

// Close releases the folder.
func (d *Dir) Close() error { return d.root.Close() }

// String names the folder, for logs.
func (d *Dir) String() string { return "local:" + d.name }

type meta struct {
	ContentType string            `json:"content_type,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
}

func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") {
		return fmt.Errorf("localstore: %w: %q", store.ErrInvalidKey, key)
	}
	first, _, _ := strings.Cut(key, "/")
	if first == reserved {
		return fmt.Errorf("localstore: %w: %q is reserved", store.ErrInvalidKey, reserved)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("localstore: %w: %q", store.ErrInvalidKey, key)
		}
	}
	return nil
}

func metaPath(key string) string { return reserved + "/meta/" + key + ".json" }

// errEscapes is the error os.Root reports for a path that leads out of it
// (a symbolic link to elsewhere). os does not export it, so it is learnt
// once, from a path that must escape.
var errEscapes = sync.OnceValue(func() error {
	r, err := os.OpenRoot(os.TempDir())
	if err != nil {
		return nil
	}
	defer r.Close()
	_, err = r.Open("..")
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return nil
})

// mapErr turns a file system error into the store's vocabulary.
func mapErr(op, key string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("localstore: %s %q: %w", op, key, store.ErrNotFound)
	case errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.ELOOP),
		errors.Is(err, syscall.EILSEQ), errors.Is(err, errEscapes()):
		return fmt.Errorf("localstore: %s %q: %w: %v", op, key, store.ErrInvalidKey, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("localstore: %s %q: %w: %v", op, key, store.ErrDenied, err)
	}
	return fmt.Errorf("localstore: %s %q: %w: %v", op, key, store.ErrUnavailable, err)
}

// Get opens the object at key.
func (d *Dir) Get(_ context.Context, key string) (*store.Object, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	f, err := d.root.Open(key)
	if err != nil {
		return nil, mapErr("get", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, mapErr("get", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("localstore: get %q: %w", key, store.ErrNotFound)
	}
	obj := &store.Object{
		Body: f,
		Size: fi.Size(),
		ETag: fmt.Sprintf("%x-%x", fi.ModTime().UnixNano(), fi.Size()),
	}
	var m meta
	if b, err := d.root.ReadFile(metaPath(key)); err == nil && json.Unmarshal(b, &m) == nil {
		obj.ContentType, obj.Meta = m.ContentType, m.Meta
	}
	if obj.ContentType == "" {
		obj.ContentType = mime.TypeByExtension(path.Ext(key))
	}
	return obj, nil
}

// Put writes the object whole: readers see the old object or the new one,
// never part of it.
func (d *Dir) Put(_ context.Context, key string, body []byte, contentType string, userMeta map[string]string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if dir := path.Dir(key); dir != "." {
		if err := d.root.MkdirAll(dir, 0o755); err != nil {
			return mapErr("put", key, err)
		}
	}
	m, err := json.Marshal(meta{ContentType: contentType, Meta: userMeta})
	if err != nil {
		return fmt.Errorf("localstore: put %q: %w", key, err)
	}
	mp := metaPath(key)
	if err := d.root.MkdirAll(path.Dir(mp), 0o755); err != nil {
		return mapErr("put", key, err)
	}
	// The object first, its metadata last: a failure between the two
	// leaves old metadata, which at worst makes the thumbnail anew.
	if err := d.writeAtomic(key, body); err != nil {
		return mapErr("put", key, err)
	}
	if err := d.writeAtomic(mp, m); err != nil {
		return mapErr("put", key, err)
	}
	return nil
}

// writeAtomic writes data to a temporary file and renames it into place.
func (d *Dir) writeAtomic(name string, data []byte) error {
	if err := d.root.MkdirAll(reserved+"/tmp", 0o755); err != nil {
		return err
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := reserved + "/tmp/" + hex.EncodeToString(rnd[:])
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, bytes.NewReader(data))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = d.root.Rename(tmp, name)
	}
	if err != nil {
		d.root.Remove(tmp)
	}
	return err
}

// Delete removes the object at key. Deleting a missing object is not an error.
func (d *Dir) Delete(_ context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := d.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return mapErr("delete", key, err)
	}
	d.root.Remove(metaPath(key))
	return nil
}

// List returns the keys that start with prefix, in lexical order.
func (d *Dir) List(_ context.Context, prefix string) ([]string, error) {
	var keys []string
	err := fs.WalkDir(d.root.FS(), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if p == reserved {
			return fs.SkipDir
		}
		if e.IsDir() {
			// Skip folders that cannot hold a key with the prefix.
			if p != "." && !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if e.Type().IsRegular() && strings.HasPrefix(p, prefix) {
			keys = append(keys, p)
		}
		return nil
	})
	if err != nil {
		return nil, mapErr("list", prefix, err)
	}
	return keys, nil
}

// Head returns the object's size, type, ETag and metadata.
func (d *Dir) Head(ctx context.Context, key string) (*store.Object, error) {
	obj, err := d.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	obj.Body.Close()
	obj.Body = nil
	return obj, nil
}

// ListDirs returns the names of the folders right under prefix (which
// ends with "/").
func (d *Dir) ListDirs(_ context.Context, prefix string) ([]string, error) {
	dir := strings.TrimSuffix(prefix, "/")
	if dir == "" {
		dir = "."
	}
	entries, err := fs.ReadDir(d.root.FS(), dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, mapErr("list", prefix, err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != reserved {
			dirs = append(dirs, e.Name())
		}
	}
	return dirs, nil
}
