package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestResizeCommand: the local resize command makes the same thumbnail
// as a cache miss and exits with the classes' codes on bad input.
func TestResizeCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "thumb.png")
	notImage := filepath.Join(dir, "notes.png")
	os.WriteFile(notImage, []byte("text"), 0o644)
	env := func(string) string { return "" }
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"resize", "-w", "90", "-o", out, "testdata/computer_cloud_system.png"}, env, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if f, w, h := decodeSize(t, mustRead(t, out)); f != "png" || w != 90 || h != 90 {
		t.Errorf("got %s %dx%d", f, w, h)
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"resize", "-w", "45", "testdata/photo.jpg"}, env, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("to stdout: exit %d: %s", code, stderr.String())
	}
	if f, w, _ := decodeSize(t, stdout.Bytes()); f != "jpeg" || w != 45 {
		t.Errorf("to stdout: %s %d wide", f, w)
	}
	for _, c := range []struct {
		args []string
		exit int
	}{
		{[]string{"resize"}, 64},
		{[]string{"resize", "-w", "0", "testdata/gray.png"}, 64},
		{[]string{"resize", "-w", "99999", "testdata/gray.png"}, 64},
		{[]string{"resize", filepath.Join(dir, "missing.png")}, 66},
		{[]string{"resize", notImage}, 65},
	} {
		if code := run(context.Background(), c.args, env, nil, &stdout, &stderr); code != c.exit {
			t.Errorf("%q: exit %d, want %d", c.args, code, c.exit)
		}
	}
}
