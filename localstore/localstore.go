// Package localstore keeps objects as plain files in a local folder, the
// store behind `make run` and tests that need no S3 server.
//
// Every path stays inside the folder: all access goes through os.Root, so
// neither `..` nor a symbolic link can lead out of it. Object metadata lives
// beside the files in a reserved `.iron_thumbs` folder, so the objects
// themselves stay ordinary image files a person can open.
//
// An object and its metadata are published together or not at all: both
// are written to temporary files and fsynced, the metadata (which records
// the inode, size and modification time of its bytes) is renamed into
// place first, then the bytes, then the folders are fsynced. A read pairs
// the bytes it opened with the metadata only when that record matches
// them; a mismatched pair (a write in between, or a crash between the two
// renames) reads as missing, never as one version's bytes with another's
// type or hash.
package localstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/iron-thumbs/iron_thumbs/store"
)

// reserved is the top-level folder that holds metadata and files being
// written. Keys inside it are refused.
const reserved = ".iron_thumbs"

// tmpDir holds files being written, named PID-RANDOM so that leftovers of
// a process that died can be told from files still being written.
const tmpDir = reserved + "/tmp"

// crashPoint, when set (by tests), is called at each step of a Put, named,
// so a test can kill the process there.
var crashPoint func(step string)

func step(name string) {
	if crashPoint != nil {
		crashPoint(name)
	}
}

// Dir is one folder used as one bucket.
type Dir struct {
	root *os.Root
	name string
	// publish orders the two renames of concurrent Puts, in this process
	// (mu) and across processes (an flock on lock), so that the last
	// writer's pair wins whole.
	mu   sync.Mutex
	lock *os.File
}

// Open opens the folder dir as a bucket. The folder must exist. Temporary
// files left by writers that have died are removed.
func Open(dir string) (*Dir, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("localstore: %w: %v", store.ErrNoBucket, err)
	}
	d := &Dir{root: r, name: dir}
	d.removeLeftovers()
	return d, nil
}

// lockPublish takes the store's publish lock; the returned func releases
// it.
func (d *Dir) lockPublish() (func(), error) {
	d.mu.Lock()
	if d.lock == nil {
		if err := d.root.MkdirAll(reserved, 0o755); err != nil {
			d.mu.Unlock()
			return nil, err
		}
		f, err := d.root.OpenFile(reserved+"/publish.lock", os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			d.mu.Unlock()
			return nil, err
		}
		d.lock = f
	}
	if err := syscall.Flock(int(d.lock.Fd()), syscall.LOCK_EX); err != nil {
		d.mu.Unlock()
		return nil, err
	}
	return func() {
		syscall.Flock(int(d.lock.Fd()), syscall.LOCK_UN)
		d.mu.Unlock()
	}, nil
}

// removeLeftovers removes the temporary files of processes that are gone.
func (d *Dir) removeLeftovers() {
	entries, err := fs.ReadDir(d.root.FS(), tmpDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, _, _ := strings.Cut(e.Name(), "-")
		n, err := strconv.Atoi(pid)
		if err != nil || !alive(n) {
			d.root.Remove(tmpDir + "/" + e.Name())
		}
	}
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Close releases the folder.
func (d *Dir) Close() error {
	if d.lock != nil {
		d.lock.Close()
	}
	return d.root.Close()
}

// String names the folder, for logs.
func (d *Dir) String() string { return "local:" + d.name }

// meta is an object's metadata, and the identity of the bytes it belongs
// to.
type meta struct {
	ContentType string            `json:"content_type,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
	Inode       uint64            `json:"inode"`
	Size        int64             `json:"size"`
	ModTime     int64             `json:"mtime_ns"`
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

// metaPath is where a key's metadata lives: named by a hash of the key, so
// its name is short whatever the key's.
func metaPath(key string) string {
	sum := sha256.Sum256([]byte(key))
	return reserved + "/meta/" + hex.EncodeToString(sum[:16]) + ".json"
}

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

// identity is what tells one version of a file from another: its inode,
// size, modification and change times. A file replaced in place with the
// same size and modification time (cp -p) still gets a new change time.
type identity struct {
	ino          uint64
	size         int64
	mtime, ctime int64
}

func identityOf(fi fs.FileInfo) identity {
	id := identity{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.ino = st.Ino
		id.ctime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
	}
	return id
}

// etag names a version of a file.
func (id identity) etag() string {
	return fmt.Sprintf("%x-%x-%x-%x", id.mtime, id.size, id.ino, id.ctime)
}

// Get opens the object at key. A FIFO, device or socket is refused
// without waiting on it.
func (d *Dir) Get(_ context.Context, key string) (*store.Object, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	// O_NONBLOCK: opening a FIFO must not wait for a writer. It has no
	// effect on the regular files that are read.
	f, err := d.root.OpenFile(key, os.O_RDONLY|syscall.O_NONBLOCK, 0)
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
		return nil, fmt.Errorf("localstore: get %q: %w: not a regular file", key, store.ErrNotFound)
	}
	id := identityOf(fi)
	obj := &store.Object{Body: f, Size: fi.Size(), ETag: id.etag()}
	m, ok, err := d.readMeta(key)
	switch {
	case err != nil:
		f.Close()
		return nil, mapErr("get", key, err)
	case ok && (m.Inode != id.ino || m.Size != id.size || m.ModTime != id.mtime):
		// Another version's metadata: the pair is not whole.
		f.Close()
		return nil, fmt.Errorf("localstore: get %q: %w: its metadata is of another version", key, store.ErrNotFound)
	case ok:
		obj.ContentType, obj.Meta = m.ContentType, m.Meta
	}
	if obj.ContentType == "" {
		obj.ContentType = mime.TypeByExtension(path.Ext(key))
	}
	return obj, nil
}

// readMeta reads a key's metadata; ok is false when there is none.
func (d *Dir) readMeta(key string) (meta, bool, error) {
	var m meta
	b, err := d.root.ReadFile(metaPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	if json.Unmarshal(b, &m) != nil {
		return m, false, nil // unreadable: as if there were none
	}
	return m, true, nil
}

// Put writes the object and its metadata whole: readers see the old pair,
// the new pair, or (for a moment, or after a crash between the renames)
// nothing; never part of one or a mix of two.
func (d *Dir) Put(ctx context.Context, key string, body []byte, contentType string, userMeta map[string]string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	dir := path.Dir(key)
	if dir != "." {
		if err := d.root.MkdirAll(dir, 0o755); err != nil {
			return mapErr("put", key, err)
		}
	}
	mp := metaPath(key)
	for _, p := range []string{path.Dir(mp), tmpDir} {
		if err := d.root.MkdirAll(p, 0o755); err != nil {
			return mapErr("put", key, err)
		}
	}
	dataTmp, fi, err := d.writeTemp(body)
	if err != nil {
		return mapErr("put", key, err)
	}
	id := identityOf(fi)
	m, err := json.Marshal(meta{ContentType: contentType, Meta: userMeta, Inode: id.ino, Size: id.size, ModTime: id.mtime})
	if err != nil {
		d.root.Remove(dataTmp)
		return fmt.Errorf("localstore: put %q: %w", key, err)
	}
	metaTmp, _, err := d.writeTemp(m)
	if err != nil {
		d.root.Remove(dataTmp)
		return mapErr("put", key, err)
	}
	step("written")
	unlock, err := d.lockPublish()
	if err != nil {
		d.root.Remove(dataTmp)
		d.root.Remove(metaTmp)
		return mapErr("put", key, err)
	}
	// A write past its deadline (checked once the lock, which may wait
	// for another publisher, is held) publishes nothing.
	if err := ctx.Err(); err != nil {
		unlock()
		d.root.Remove(dataTmp)
		d.root.Remove(metaTmp)
		return fmt.Errorf("localstore: put %q: %w", key, err)
	}
	if err := d.root.Rename(metaTmp, mp); err != nil {
		unlock()
		d.root.Remove(dataTmp)
		d.root.Remove(metaTmp)
		return mapErr("put", key, err)
	}
	step("meta renamed")
	if err := d.root.Rename(dataTmp, key); err != nil {
		d.root.Remove(mp) // names bytes that never arrived
		unlock()
		d.root.Remove(dataTmp)
		return mapErr("put", key, err)
	}
	unlock()
	step("data renamed")
	if err := errors.Join(d.syncDir(path.Dir(mp)), d.syncDir(dir)); err != nil {
		return mapErr("put", key, err)
	}
	return nil
}

// writeTemp writes data to a new temporary file, fsynced, and returns its
// name and what it is.
func (d *Dir) writeTemp(data []byte) (string, fs.FileInfo, error) {
	var rnd [8]byte
	rand.Read(rnd[:])
	name := tmpDir + "/" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(rnd[:])
	f, err := d.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", nil, err
	}
	_, err = io.Copy(f, bytes.NewReader(data))
	if err == nil {
		err = f.Sync()
	}
	var fi fs.FileInfo
	if err == nil {
		fi, err = f.Stat()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		d.root.Remove(name)
		return "", nil, err
	}
	return name, fi, nil
}

// syncDir makes a folder's entries durable: a rename is only on disk once
// its folder is.
func (d *Dir) syncDir(dir string) error {
	f, err := d.root.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
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
func (d *Dir) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := d.Walk(ctx, prefix, func(it store.Item) error {
		keys = append(keys, it.Key)
		return nil
	})
	return keys, err
}

// Walk calls fn for each regular file whose key starts with prefix, in
// lexical order, with the ETag Get would give it. An error from fn stops
// the walk and is returned.
func (d *Dir) Walk(ctx context.Context, prefix string, fn func(store.Item) error) error {
	var fnErr error
	err := fs.WalkDir(d.root.FS(), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
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
		if !e.Type().IsRegular() || !strings.HasPrefix(p, prefix) {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return nil // gone since the folder was read
		}
		if fnErr = fn(store.Item{Key: p, Size: fi.Size(), ETag: identityOf(fi).etag()}); fnErr != nil {
			return fnErr
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return mapErr("list", prefix, err)
	}
	return nil
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
