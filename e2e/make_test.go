package e2e

import (
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMakeRun: the quick start's server answers, and stopping make stops
// it: nothing is left listening.
func TestMakeRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cmd := exec.Command("make", "-s", "-C", "..", "run", "ADDR="+addr, "RUN_DIR="+dir)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	url := "http://" + addr + "/r/iron_thumbs/thumbs?filename=computer_cloud_system.png&size=180"
	var resp *http.Response
	for range 300 {
		if resp, err = http.Get(url); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("make run did not serve: %v\n%s", err, out.String())
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("the README's curl: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("make did not stop")
	}
	for range 50 {
		if _, err := http.Get("http://" + addr + "/healthz"); err != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("the server still listens on %s after make stopped", addr)
}

// TestMakeClean: make clean keeps the pictures the quick start tells
// people to put in the run folder.
func TestMakeClean(t *testing.T) {
	dir := t.TempDir()
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"Makefile": mk, "func.yaml": []byte("version: 1\n")}
	for _, p := range []string{"bin/iron_thumbs", ".run/images/mine.jpg", ".run/thumbs/v3/180/mine.jpg"} {
		files[p] = []byte("x")
	}
	for p, data := range files {
		p = filepath.Join(dir, p)
		if err := errors.Join(os.MkdirAll(filepath.Dir(p), 0o755), os.WriteFile(p, data, 0o644)); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("make", "-s", "-C", dir, "clean").CombinedOutput(); err != nil {
		t.Fatalf("make clean: %v\n%s", err, out)
	}
	for p, kept := range map[string]bool{"bin": false, ".run/thumbs": false, ".run/images/mine.jpg": true} {
		if _, err := os.Stat(filepath.Join(dir, p)); (err == nil) != kept {
			t.Errorf("%s: kept %v, want %v", p, err == nil, kept)
		}
	}
	help, _ := exec.Command("make", "-s", "-C", dir, "help", "ADDR=127.0.0.1:9999").Output()
	if !strings.Contains(string(help), "http://127.0.0.1:9999") {
		t.Errorf("make help does not print the address:\n%s", help)
	}
}
