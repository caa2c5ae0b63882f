// Package s3test starts a real S3 server, the Versity S3 Gateway, on a
// free loopback port for tests and benchmarks. The Makefile installs the
// pinned gateway into the project's tools folder (`make tools`).
package s3test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/iron-thumbs/iron_thumbs/s3store"
)

// Version is the gateway release the Makefile pins (VERSITYGW_VERSION).
const Version = "v1.8.0"

// Server is a running gateway.
type Server struct {
	// Endpoint is its base URL, http://127.0.0.1:PORT.
	Endpoint  string
	AccessKey string
	SecretKey string
	// Dir is the folder that holds its buckets.
	Dir string

	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// Binary finds the gateway: $VERSITYGW, else .tools/versitygw-VERSION/versitygw
// in the module's root.
func Binary() (string, error) {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, ".tools", "versitygw-"+Version, "versitygw")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("s3test: versitygw not installed at %s: run `make tools` (make test does it)", p)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("s3test: no go.mod above the working directory; set VERSITYGW")
		}
		dir = parent
	}
}

// Launch starts a gateway keeping its buckets under dir, and creates the
// buckets. Stop it with Stop.
func Launch(dir string, buckets ...string) (*Server, error) {
	return launchWith(dir, nil, buckets...)
}

// launchWith is Launch with more flags for the gateway.
func launchWith(dir string, flags []string, buckets ...string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 { // a free port can be taken between probe and start
		s, err := launch(bin, dir, root, flags)
		if err == nil {
			for _, b := range buckets {
				if err := s.CreateBucket(b); err != nil {
					s.Stop()
					return nil, err
				}
			}
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func launch(bin, dir, root string, flags []string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &Server{
		Endpoint:  "http://" + addr,
		AccessKey: "iron-thumbs-test",
		SecretKey: "iron-thumbs-test-secret",
		Dir:       root,
		done:      make(chan struct{}),
	}
	s.log, err = os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		return nil, err
	}
	args := append([]string{"--access", s.AccessKey, "--secret", s.SecretKey,
		"--port", addr, "--quiet", "--keep-alive"}, flags...)
	s.cmd = exec.Command(bin, append(args, "posix", root)...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	setProcAttr(s.cmd)
	if err := s.cmd.Start(); err != nil {
		s.log.Close()
		return nil, fmt.Errorf("s3test: starting versitygw: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		select {
		case <-s.done:
			out, _ := os.ReadFile(s.log.Name())
			return nil, fmt.Errorf("s3test: versitygw exited at start: %s", strings.TrimSpace(string(out)))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("s3test: versitygw not answering on %s after 20s", addr)
		}
	}
}

// Start starts a gateway for the test, with the buckets created, and
// stops it when the test ends. It fails the test when no gateway can run.
func Start(tb testing.TB, buckets ...string) *Server {
	tb.Helper()
	s, err := Launch(tb.TempDir(), buckets...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Reader is the access key of the user StartWithReader makes; its secret
// is ReaderSecret.
const (
	Reader       = "reader"
	ReaderSecret = "reader-secret"
)

// StartWithReader is Start with the gateway's own IAM and a second user,
// Reader, whom bucket policies let list and read each of the buckets but
// write none. It returns the store options of that user.
func StartWithReader(tb testing.TB, buckets ...string) (*Server, s3store.Options) {
	tb.Helper()
	s, err := launchWith(tb.TempDir(), []string{"--iam-dir", tb.TempDir()}, buckets...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	bin, _ := Binary()
	out, err := exec.Command(bin, "admin", "--access", s.AccessKey, "--secret", s.SecretKey, "--endpoint-url", s.Endpoint,
		"create-user", "--access", Reader, "--secret", ReaderSecret, "--role", "user").CombinedOutput()
	if err != nil {
		tb.Fatalf("s3test: creating the reader: %v: %s", err, out)
	}
	for _, b := range buckets {
		policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["` + Reader + `"]},` +
			`"Action":["s3:ListBucket","s3:GetObject"],"Resource":["arn:aws:s3:::` + b + `","arn:aws:s3:::` + b + `/*"]}]}`
		if _, err := s.Client().PutBucketPolicy(context.Background(), &s3.PutBucketPolicyInput{Bucket: &b, Policy: &policy}); err != nil {
			tb.Fatal(err)
		}
	}
	o := s.Options()
	o.AccessKey, o.SecretKey = Reader, ReaderSecret
	return s, o
}

// Options returns the store options that reach the gateway.
func (s *Server) Options() s3store.Options {
	return s3store.Options{Endpoint: s.Endpoint, AccessKey: s.AccessKey, SecretKey: s.SecretKey}
}

// Client returns an S3 client for the gateway.
func (s *Server) Client() *s3.Client { return s3store.NewClient(s.Options()) }

// CreateBucket creates a bucket.
func (s *Server) CreateBucket(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s3store.New(s.Client(), name).EnsureBucket(ctx)
}

// Stop kills the gateway and waits for it to exit. It is safe to call twice.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
}

// Pid returns the gateway's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }
