// Package store defines the vocabulary shared by the object stores: the
// object a read returns and the errors every store reports the same way.
//
// Consumers declare the small interface they need themselves; the stores
// (s3store, localstore) return concrete types.
package store

import (
	"errors"
	"fmt"
	"io"
)

// Object is an object being read: its body streams, its size is known
// before the first byte is read.
type Object struct {
	// Body streams the object's bytes. The caller closes it.
	Body io.ReadCloser
	// Size is the number of bytes Body yields.
	Size int64
	// ContentType is the media type the object was written with, if any.
	ContentType string
	// ETag is the store's own entity tag, quotes removed. Its scheme
	// differs between stores; compare it only with tags of the same store.
	ETag string
	// Meta holds the user metadata written with the object, keys in lower case.
	Meta map[string]string
}

// Item is an object as a listing names it.
type Item struct {
	Key  string
	Size int64
	// ETag is what Get and Head would say of the object.
	ETag string
}

// Errors a store reports, wrapped with detail; test with errors.Is.
var (
	// ErrNotFound means the key holds no object.
	ErrNotFound = errors.New("store: object not found")
	// ErrNoBucket means the bucket (or local folder) itself does not exist.
	ErrNoBucket = errors.New("store: bucket does not exist")
	// ErrInvalidKey means the store refuses the key itself, for instance a
	// path segment too long for its file system.
	ErrInvalidKey = errors.New("store: key refused by the store")
	// ErrUnavailable means the store could not be reached or failed on its
	// side; the call may succeed later.
	ErrUnavailable = errors.New("store: storage unavailable")
	// ErrDenied means the store refused the credentials or the operation.
	ErrDenied = errors.New("store: access denied")
	// ErrUnreachable means the store could not be connected to at all: a
	// kind of ErrUnavailable after which no other request is worth trying.
	ErrUnreachable = fmt.Errorf("%w: server unreachable", ErrUnavailable)
)
