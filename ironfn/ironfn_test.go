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
	"time"

	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

// echo answers with the query it was given, or 404 for "missing".
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.Header.Get("If-None-Match") != "" {
		w.WriteHeader(http.StatusTeapot)
		return
	}
	if r.URL.RawQuery == "missing" {
		thumbs.WriteError(w, thumbs.Errorf(thumbs.KindNotFound, "nope"))
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, r.URL.RawQuery)
})

func TestCold(t *testing.T) {
	var out bytes.Buffer
	if err := Cold(context.Background(), echo, "http//h/r/a/thumbs?a=1&b=2", &out); err != nil || out.String() != "a=1&b=2" {
		t.Errorf("got %v %q", err, out.String())
	}
	out.Reset()
	err := Cold(context.Background(), echo, "http//h/r/a/thumbs?missing", &out)
	if code := thumbs.ExitCode(err); code != 66 || out.Len() != 0 {
		t.Errorf("404: %v, exit %d, stdout %q; want 66 and nothing", err, code, out.String())
	}
	// The exit code comes from the failure's kind, not its status: 500 is
	// both an internal error and a configuration error.
	cfg := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		thumbs.WriteError(w, thumbs.Errorf(thumbs.KindConfig, "S3_ENDPOINT: want a URL"))
	})
	if code := thumbs.ExitCode(Cold(context.Background(), cfg, "http//h/r/a/thumbs?x", &out)); code != 78 {
		t.Errorf("configuration error: exit %d, want 78", code)
	}
	teapot := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	if code := thumbs.ExitCode(Cold(context.Background(), teapot, "http//h/r/a/thumbs?x", &out)); code != 70 || out.Len() != 0 {
		t.Errorf("a failure without an error: exit %d, want 70", code)
	}
}
func TestQueryOf(t *testing.T) {
	cases := map[string]string{
		"http//localhost:8080/r/iron_thumbs/thumbs?filename=a.png&size=180":  "filename=a.png&size=180",
		"https//example.com/r/iron_thumbs/thumbs?filename=a%3Fb.png&size=18": "filename=a%3Fb.png&size=18",
		"http//host/r/app/thumbs":                            "",
		"http//host/r/app/thumbs?filename=a.png&size=9#frag": "filename=a.png&size=9",
		"http://host/thumbs?filename=a?b&size=9":             "filename=a?b&size=9",
	}
	for in, want := range cases {
		if got := QueryOf(in); got != want {
			t.Errorf("QueryOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHotStopsOnSignal: when its context ends (SIGTERM), an idle hot loop
// returns at once, and a call in progress is finished and answered first.
func TestHotStopsOnSignal(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		stdin, _ := io.Pipe() // open, silent: IronFunctions has no call for it
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Hot(ctx, echo, stdin, io.Discard) }()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("an idle hot loop did not stop")
		}
	})
	t.Run("busy", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		entered, release := make(chan struct{}), make(chan struct{})
		slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-release
			if r.Context().Err() != nil {
				http.Error(w, "canceled", http.StatusGatewayTimeout)
				return
			}
			io.WriteString(w, "finished")
		})
		stdin, w := io.Pipe()
		go io.WriteString(w, request("http//h/r/a/thumbs?one", "")+request("http//h/r/a/thumbs?two", ""))
		var out bytes.Buffer
		done := make(chan error, 1)
		go func() { done <- Hot(ctx, slow, stdin, &out) }()
		<-entered
		cancel()
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		rs := responses(t, out.Bytes())
		if len(rs) != 1 {
			t.Fatalf("%d responses, want the one call in progress", len(rs))
		}
		if b, _ := io.ReadAll(rs[0].Body); rs[0].StatusCode != 200 || string(b) != "finished" {
			t.Errorf("call in progress: %d %q, want 200 finished", rs[0].StatusCode, b)
		}
	})
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
