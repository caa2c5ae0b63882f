package thumbs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/iron-thumbs/iron_thumbs/config"
	"github.com/iron-thumbs/iron_thumbs/resize"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

var update = flag.Bool("update", false, "record the golden thumbnail hashes of a new KeyVersion")

// golden is testdata/golden/thumbs-GOARCH.json: the hashes of the
// thumbnails of every test image, and the KeyVersion they belong to.
// Other architectures fuse multiply-adds differently, so each has its own.
type golden struct {
	KeyVersion string            `json:"key_version"`
	GOARCH     string            `json:"goarch"`
	Thumbnails map[string]string `json:"thumbnails"` // "NAME@SIZE" -> SHA-256 of the bytes
}

// goldenSizes are the widths every test image is made at; the largest is
// beyond every source, which keeps the source's size.
var goldenSizes = []int{1, 45, 180, 4096}

// TestGoldenThumbnails pins thumbnail bytes to KeyVersion: a stored
// thumbnail is served for as long as its key exists, so bytes made by
// changed code must land under a new key.
func TestGoldenThumbnails(t *testing.T) {
	opts := config.Default().Handler() // what a call makes
	got := golden{KeyVersion: thumbs.KeyVersion, GOARCH: runtime.GOARCH, Thumbnails: map[string]string{}}
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*.*"))
	files2, _ := filepath.Glob(filepath.Join("..", "testdata", "jpeg", "*.jpg"))
	for _, f := range append(files, files2...) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(filepath.Join("..", "testdata"), f)
		for _, w := range goldenSizes {
			res, err := resize.Thumbnail(context.Background(), bytes.NewReader(src), opts.Transform(w))
			if err != nil {
				continue // fixtures made to be refused
			}
			sum := sha256.Sum256(res.Data)
			got.Thumbnails[fmt.Sprintf("%s@%d", filepath.ToSlash(name), w)] = hex.EncodeToString(sum[:])
		}
	}
	if len(got.Thumbnails) == 0 {
		t.Fatal("no test image made a thumbnail")
	}
	path := filepath.Join("..", "testdata", "golden", "thumbs-"+runtime.GOARCH+".json")
	raw, err := os.ReadFile(path)
	var want golden
	if err == nil {
		err = json.Unmarshal(raw, &want)
	}
	switch {
	case err != nil && !*update:
		t.Fatalf("no golden hashes for %s (%v): record them with go test ./thumbs -run TestGoldenThumbnails -update", runtime.GOARCH, err)
	case err == nil && want.KeyVersion == thumbs.KeyVersion:
		if changed := diff(want.Thumbnails, got.Thumbnails); len(changed) > 0 {
			t.Fatalf("thumbnail bytes changed: bump KeyVersion, then run with -update\n(%d of %d differ under %s: %s)",
				len(changed), len(got.Thumbnails), thumbs.KeyVersion, strings.Join(changed, ", "))
		}
		return
	case !*update:
		t.Fatalf("golden hashes are of KeyVersion %s, the code makes %s: record them with -update", want.KeyVersion, thumbs.KeyVersion)
	}
	out, _ := json.MarshalIndent(got, "", "  ")
	if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d thumbnail hashes for KeyVersion %s in %s", len(got.Thumbnails), thumbs.KeyVersion, path)
}

// diff returns the names whose hashes differ, or are in one map only.
func diff(a, b map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		if b[k] != a[k] {
			out = append(out, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// TestREADMENamesKeyVersion: the README's key examples and lifecycle rule
// name the current version.
func TestREADMENamesKeyVersion(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	for _, want := range []string{
		thumbs.KeyVersion + "/<size>/<filename>",
		thumbs.KeyVersion + "/180/cat.png",
		`"Prefix": "` + thumbs.KeyVersion + `/"`,
		"--prefix " + thumbs.KeyVersion + "/",
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("README does not say %q", want)
		}
	}
	for v := 1; v < 100; v++ {
		old := fmt.Sprintf("v%d/180/", v)
		if "v"+fmt.Sprint(v) != thumbs.KeyVersion && strings.Contains(readme, old) {
			t.Errorf("README still shows keys of %s", old[:len(old)-5])
		}
	}
}
