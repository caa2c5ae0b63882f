package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startServe runs the local door in-process as `iron_thumbs serve -local
// DIR` would, on a free loopback port, with testdata/ as the images
// folder. It returns the base URL and DIR.
func startServe(t *testing.T, env map[string]string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	images := filepath.Join(dir, "images")
	os.MkdirAll(images, 0o755)
	files, _ := filepath.Glob(filepath.Join("testdata", "*.*"))
	for _, f := range files {
		os.WriteFile(filepath.Join(images, filepath.Base(f)), mustRead(t, f), 0o644)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var log syncBuffer
	go func() {
		done <- run(ctx, []string{"serve", "-addr", addr, "-local", dir}, func(k string) string { return env[k] },
			strings.NewReader(""), io.Discard, &log)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d: %s", code, log.String())
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	})
	base := "http://" + addr
	for range 100 {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			return base, dir
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("serve did not start: %s", log.String())
	return "", ""
}

func TestServe(t *testing.T) {
	base, _ := startServe(t, nil)
	get := func(method, path string, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := get("GET", "/r/iron_thumbs/thumbs?filename=computer_cloud_system.png&size=180")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("%d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if f, w, h := decodeSize(t, body); f != "png" || w != 180 || h != 180 {
		t.Errorf("got %s %dx%d", f, w, h)
	}
	etag := resp.Header.Get("ETag")
	resp, body = get("HEAD", "/thumbs?filename=computer_cloud_system.png&size=180")
	if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("ETag") != etag {
		t.Errorf("HEAD: %d, %d bytes, ETag %s (GET gave %s)", resp.StatusCode, len(body), resp.Header.Get("ETag"), etag)
	}
	resp, _ = get("GET", "/thumbs?filename=computer_cloud_system.png&size=180", "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	resp, body = get("POST", "/thumbs?filename=computer_cloud_system.png&size=180")
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %s", resp.StatusCode, body)
	}
	resp, body = get("GET", "/thumbs?filename=missing.png&size=180")
	if resp.StatusCode != 404 || !strings.Contains(string(body), "original not found") {
		t.Errorf("missing: %d %s", resp.StatusCode, body)
	}
}
