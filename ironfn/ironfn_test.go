package ironfn

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// echo answers with the query it was given, or 404 for "missing".
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.Header.Get("If-None-Match") != "" {
		w.WriteHeader(http.StatusTeapot)
		return
	}
	if r.URL.RawQuery == "missing" {
		http.Error(w, "nope", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, r.URL.RawQuery)
})

func TestCold(t *testing.T) {
	var out bytes.Buffer
	if code := Cold(context.Background(), echo, "http//h/r/a/thumbs?a=1&b=2", &out); code != 0 || out.String() != "a=1&b=2" {
		t.Errorf("got %d %q", code, out.String())
	}
	out.Reset()
	if code := Cold(context.Background(), echo, "http//h/r/a/thumbs?missing", &out); code != 66 || out.Len() != 0 {
		t.Errorf("404: exit %d, stdout %q; want 66 and nothing", code, out.String())
	}
}

func request(url string, body string) string {
	return "GET / HTTP/1.1\r\nRequest_url: " + url + "\r\nHeader_if_none_match: \"x\"\r\nTask-Id: 1\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

func responses(t *testing.T, out []byte) []*http.Response {
	t.Helper()
	var all []*http.Response
	br := bufio.NewReader(bytes.NewReader(out))
	for {
		if _, err := br.Peek(1); err != nil {
			return all
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d is malformed: %v", len(all)+1, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		if resp.ContentLength != int64(len(b)) {
			t.Errorf("response %d: Content-Length %d, body %d", len(all)+1, resp.ContentLength, len(b))
		}
		all = append(all, resp)
	}
}

func TestHotLoop(t *testing.T) {
	big := strings.Repeat("x", MaxBody+1)
	in := request("http//h/r/a/thumbs?first", "") +
		"GET / HTTP/1.1\r\nRequest_url: http//h/r/a/thumbs?big\r\nContent-Length: " + strconv.Itoa(len(big)) + "\r\n\r\n" + big +
		request("http//h/r/a/thumbs?missing", "") +
		request("http//h/r/a/thumbs?body", "12345") +
		request("http//h/r/a/thumbs?last", "")
	var out bytes.Buffer
	if err := Hot(context.Background(), echo, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	rs := responses(t, out.Bytes())
	want := []struct {
		status int
		body   string
	}{{200, "first"}, {413, "takes none"}, {404, "nope"}, {200, "body"}, {200, "last"}}
	if len(rs) != len(want) {
		t.Fatalf("%d responses, want %d", len(rs), len(want))
	}
	for i, w := range want {
		b, _ := io.ReadAll(rs[i].Body)
		if rs[i].StatusCode != w.status || !strings.Contains(string(b), w.body) {
			t.Errorf("response %d: %d %q, want %d with %q", i, rs[i].StatusCode, b, w.status, w.body)
		}
	}
}

// TestHotEndsInsideRequest: stdin closing mid-request ends the loop
// without an answer nobody would read.
func TestHotEndsInsideRequest(t *testing.T) {
	var out bytes.Buffer
	err := Hot(context.Background(), echo, strings.NewReader("GET / HTTP/1.1\r\nRequest_url: x"), &out)
	if err != nil || out.Len() != 0 {
		t.Errorf("err %v, wrote %q", err, out.String())
	}
}

// TestHotFramingEdges: blank lines between requests are skipped, and a
// request whose header was read whole before it failed does not swallow
// the next one.
func TestHotFramingEdges(t *testing.T) {
	in := request("http//h/r/a/thumbs?one", "") +
		"\r\n\r\n" +
		"GET / HTTP/1.1\r\nRequest_url: http//h/r/a/thumbs?dup\r\nHost: a\r\nHost: b\r\nContent-Length: 0\r\n\r\n" +
		request("http//h/r/a/thumbs?two", "") +
		"GET / HTTP/1.1\r\nX-Long: " + strings.Repeat("x", 5000) + "\r\n\r\n" +
		request("http//h/r/a/thumbs?three", "")
	var out bytes.Buffer
	if err := Hot(context.Background(), echo, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	rs := responses(t, out.Bytes())
	var got []string
	for _, r := range rs {
		b, _ := io.ReadAll(r.Body)
		got = append(got, strconv.Itoa(r.StatusCode)+" "+strings.SplitN(string(b), "\n", 2)[0])
	}
	want := []string{"200 one", "400", "200 two", "400", "200 three"}
	if len(got) != len(want) {
		t.Fatalf("responses %q, want %d", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("response %d: %q, want %q", i, got[i], want[i])
		}
	}
}
