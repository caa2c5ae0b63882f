package thumbs

import (
	"context"
	"errors"
	"strconv"

	"github.com/iron-thumbs/iron_thumbs/store"
)

// PurgeStore is what Purge needs of the thumbs bucket.
type PurgeStore interface {
	Head(ctx context.Context, key string) (*store.Object, error)
	Delete(ctx context.Context, key string) error
	// ListDirs returns the folder names right under a prefix ending in "/".
	ListDirs(ctx context.Context, prefix string) ([]string, error)
}

// Purge deletes every stored thumbnail of filename, at every size, and
// returns the keys it deleted. Use it when an original is replaced or
// deleted.
func Purge(ctx context.Context, st PurgeStore, filename string) ([]string, error) {
	if err := ValidFilename(filename); err != nil {
		return nil, err
	}
	sizes, err := st.ListDirs(ctx, KeyVersion+"/")
	if err != nil {
		return nil, err
	}
	var deleted []string
	for _, s := range sizes {
		w, err := strconv.Atoi(s)
		if err != nil || strconv.Itoa(w) != s {
			continue // not a size folder
		}
		key := Request{Filename: filename, Width: w}.Key()
		if _, err := st.Head(ctx, key); errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return deleted, err
		}
		if err := st.Delete(ctx, key); err != nil {
			return deleted, err
		}
		deleted = append(deleted, key)
	}
	return deleted, nil
}
