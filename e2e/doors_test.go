package e2e

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// localServer is `iron_thumbs serve -local DIR` running as a process.
type localServer struct {
	// URL is its base URL, http://127.0.0.1:PORT.
	URL string
	// Dir holds its folders images/ (testdata/ and the test's objects)
	// and thumbs/.
	Dir string
	cmd *exec.Cmd
	log *syncBuffer
}

// syncBuffer is a bytes.Buffer a process and a test can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startLocal starts the local server with the settings in env, on a free
// loopback port, its images folder holding testdata/ and objects. It is
// stopped with SIGTERM when the test ends, and must then exit 0.
func startLocal(t *testing.T, env map[string]string, objects map[string][]byte) *localServer {
	t.Helper()
	dir := t.TempDir()
	images := filepath.Join(dir, "images")
	if err := os.MkdirAll(images, 0o755); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*"))
	all := map[string][]byte{}
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			all[filepath.Base(f)] = mustRead(t, f)
		}
	}
	maps.Copy(all, objects)
	for name, data := range all {
		p := filepath.Join(images, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &localServer{URL: "http://" + addr, Dir: dir, log: &syncBuffer{}}
	s.cmd = exec.Command(binary, "serve", "-addr", addr, "-local", dir)
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		s.cmd.Env = append(s.cmd.Env, k+"="+v)
	}
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve did not exit cleanly on SIGTERM: %v\n%s", err, s.log.String())
			}
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			t.Errorf("serve did not stop on SIGTERM:\n%s", s.log.String())
		}
	})
	for range 250 {
		if resp, err := http.Get(s.URL + "/healthz"); err == nil {
			resp.Body.Close()
			return s
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve exited: %v\n%s", err, s.log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start:\n%s", s.log.String())
	return nil
}

// get fetches a path of the local server.
func (s *localServer) get(t *testing.T, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(s.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// result is what a command run as a process did.
type result struct {
	code           int
	stdout, stderr string
}

// command runs the binary with args and the settings in env.
func command(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", strings.Join(args, " "), err)
	}
	return result{code, stdout.String(), stderr.String()}
}
