package thumbs

import (
	"errors"
	"strings"
	"testing"
)

func TestParseQuery(t *testing.T) {
	ok := []struct {
		query    string
		filename string
		width    int
	}{
		{"filename=cat.png&size=180", "cat.png", 180},
		{"size=1&filename=a", "a", 1},
		{"filename=my+cat.png&size=90", "my cat.png", 90},
		{"filename=dir%2Fsub%2Fcat.png&size=90", "dir/sub/cat.png", 90},
		{"filename=dir/cat.png&size=90", "dir/cat.png", 90},
		{"filename=%E7%8C%AB.png&size=2048", "猫.png", 2048},
		{"filename=cat.png&size=180&payload=&other=1", "cat.png", 180},
		{"filename=..cat.png&size=180", "..cat.png", 180},
	}
	for _, c := range ok {
		r, err := ParseQuery(c.query, 2048)
		if err != nil || r.Filename != c.filename || r.Width != c.width {
			t.Errorf("ParseQuery(%q) = %+v, %v; want %q, %d", c.query, r, err, c.filename, c.width)
		}
	}
	bad := []struct{ query, why string }{
		{"", "missing filename"},
		{"filename=a.png", "missing size"},
		{"size=10", "missing filename"},
		{"filename=a.png&filename=b.png&size=10", "filename given 2 times"},
		{"filename=a.png&size=10&size=20", "size given 2 times"},
		{"filename=a.png&size=0", "want a whole number"},
		{"filename=a.png&size=-5", "want a whole number"},
		{"filename=a.png&size=1.5", "want a whole number"},
		{"filename=a.png&size=0x10", "want a whole number"},
		{"filename=a.png&size=+5", "want a whole number"},
		{"filename=a.png&size=%2010", "want a whole number"},
		{"filename=a.png&size=010", "want a whole number"},
		{"filename=a.png&size=", "want a whole number"},
		{"filename=a.png&size=2049", "larger than the maximum"},
		{"filename=a.png&size=99999999999999999999999", "larger than the maximum"},
		{"filename=&size=10", "filename is empty"},
		{"filename=../etc/passwd&size=10", `".." path segment`},
		{"filename=a/../../b&size=10", `".." path segment`},
		{"filename=./a.png&size=10", `"." path segment`},
		{"filename=a//b.png&size=10", "empty path segment"},
		{"filename=%2Fetc%2Fpasswd&size=10", "starts with /"},
		{"filename=a%00.png&size=10", "control character"},
		{"filename=a%0A.png&size=10", "control character"},
		{"filename=a%7F.png&size=10", "control character"},
		{"filename=%C2%85.png&size=10", "control character"},
		{"filename=%FF%FE.png&size=10", "not valid UTF-8"},
		{"filename=" + strings.Repeat("a", 1001) + "&size=10", "more than 1000"},
		{"filename=" + strings.Repeat("a", 5000) + "&size=10", "more than 1000"},
		{"filename=a.png&size=10&%zz", "malformed query"},
		{"filename=a.png;size=10", "malformed query"},
		{"%%%", "malformed query"},
		{"filename=a.png&size=10&sig=a&sig=b", "once each"},
	}
	for _, c := range bad {
		_, err := ParseQuery(c.query, 2048)
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindBadRequest {
			t.Errorf("ParseQuery(%.40q) = %v, want a bad request", c.query, err)
			continue
		}
		if !strings.Contains(e.Msg, c.why) {
			t.Errorf("ParseQuery(%.40q) message %q, want it to say %q", c.query, e.Msg, c.why)
		}
	}
}

func TestFilenameAtLimit(t *testing.T) {
	name := strings.Repeat("a", MaxFilenameBytes)
	r, err := ParseQuery("filename="+name+"&size=2048", 2048)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.Key()); n > 1024 {
		t.Errorf("longest key is %d bytes, more than S3's 1024", n)
	}
}

// TestKeyInjective: different (filename, size) pairs never share a key,
// including the 2017 prototype's collision a1+23 / a12+3.
func TestKeyInjective(t *testing.T) {
	names := []string{"a1", "a12", "a", "1", "1/a", "12/a", "v1/1/a", "a/1", "a b", "a/b/c", "23", "3"}
	sizes := []int{1, 3, 12, 23, 123, 180}
	seen := map[string]Request{}
	for _, n := range names {
		for _, s := range sizes {
			r := Request{Filename: n, Width: s}
			if prev, dup := seen[r.Key()]; dup {
				t.Errorf("%+v and %+v share key %q", prev, r, r.Key())
			}
			seen[r.Key()] = r
		}
	}
	if k := (Request{Filename: "cat.png", Width: 180}).Key(); k != "v3/180/cat.png" {
		t.Errorf("key = %q, want v3/180/cat.png", k)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"filename=cat.png&size=180", "filename=a%2Fb&size=1", "%zz", "size=0x1&filename=..", "filename=%FF&size=9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		r, err := ParseQuery(q, 2048)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindBadRequest {
				t.Fatalf("error %v is not a bad request", err)
			}
			return
		}
		if r.Width < 1 || r.Width > 2048 {
			t.Fatalf("width %d accepted", r.Width)
		}
		if ValidFilename(r.Filename) != nil {
			t.Fatalf("invalid filename %q accepted", r.Filename)
		}
		if !strings.HasPrefix(r.Key(), KeyVersion+"/") || len(r.Key()) > 1024 {
			t.Fatalf("bad key %q", r.Key())
		}
	})
}
