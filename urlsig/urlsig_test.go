package urlsig

import (
	"errors"
	"net/url"
	"strconv"
	"testing"
	"time"
)

func TestSignAndCheck(t *testing.T) {
	key := []byte("k3y")
	now := time.Unix(1_800_000_000, 0)
	q, _ := url.ParseQuery(Query(key, "dir/my cat.png", 180, time.Hour, now))
	size, _ := strconv.Atoi(q.Get("size"))
	if err := Check(key, q.Get("filename"), size, q.Get("sig"), q.Get("exp"), now); err != nil {
		t.Fatalf("fresh signature refused: %v", err)
	}
	cases := []struct {
		name     string
		filename string
		size     int
		sig, exp string
		at       time.Time
		want     error
	}{
		{"expired", "dir/my cat.png", 180, q.Get("sig"), q.Get("exp"), now.Add(2 * time.Hour), ErrExpired},
		{"other size", "dir/my cat.png", 181, q.Get("sig"), q.Get("exp"), now, ErrInvalid},
		{"other file", "dir/my cat.jpg", 180, q.Get("sig"), q.Get("exp"), now, ErrInvalid},
		{"exp moved", "dir/my cat.png", 180, q.Get("sig"), "9999999999", now, ErrInvalid},
		{"exp dropped", "dir/my cat.png", 180, q.Get("sig"), "", now, ErrInvalid},
		{"missing", "dir/my cat.png", 180, "", q.Get("exp"), now, ErrMissing},
		{"garbage", "dir/my cat.png", 180, "!!!", q.Get("exp"), now, ErrInvalid},
		{"padded", "dir/my cat.png", 180, q.Get("sig") + "=", q.Get("exp"), now, ErrInvalid},
	}
	for _, c := range cases {
		if err := Check(key, c.filename, c.size, c.sig, c.exp, c.at); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// Without expiry the message is size + "\n" + filename: a size/filename
	// split cannot be moved ("1"+"\n"+"2\na" vs "1\n2"+"\n"+"a" differ by size).
	if Sign(key, "a", 12, "") == Sign(key, "2a", 1, "") {
		t.Error("different requests share a signature")
	}
	if err := Check([]byte("other"), "a", 1, Sign(key, "a", 1, ""), "", now); !errors.Is(err, ErrInvalid) {
		t.Errorf("another key's signature: %v", err)
	}
}
