package funcfile

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	const base = "name: a/b\nversion: 0.1.0\nruntime: go\n"
	cases := []struct {
		name, yaml, err string
	}{
		{"minimal", base, ""},
		{"durations with units", base + "timeout: 30s\nidle_timeout: 1m\n", ""},
		{"bare timeout", base + "timeout: 30\n", "with its unit"},
		{"bare idle_timeout", base + "idle_timeout: 30\n", "with its unit"},
		{"bad duration", base + "timeout: soon\n", "soon"},
		{"fraction of a second", base + "timeout: 1500ms\n", "whole seconds"},
		{"unknown field", base + "memroy: 128\n", "memroy"},
		{"no version", "name: a\nruntime: go\n", "name and version"},
		{"json format", base + "format: json\n", "want default or http"},
		{"bad type", base + "type: later\n", "want sync or async"},
		{"path with a param", base + "path: /thumbs/:id\n", "without :params"},
		{"relative path", base + "path: thumbs\n", "without :params"},
		{"hot without idle_timeout", base + "format: http\n", "idle_timeout"},
		{"hot with idle_timeout 0", base + "format: http\nidle_timeout: 0s\n", "idle_timeout"},
		{"hot with idle_timeout", base + "format: http\nidle_timeout: 30s\n", ""},
	}
	for _, c := range cases {
		f, err := Parse([]byte(c.yaml))
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.err)
		case c.err == "" && f.Image() != "a/b:0.1.0":
			t.Errorf("%s: image %q", c.name, f.Image())
		}
	}
	f, err := Parse([]byte(base + "timeout: 30s\nidle_timeout: 2m\n"))
	if err != nil || time.Duration(f.Timeout) != 30*time.Second || f.IdleTimeout.Seconds() != 120 {
		t.Errorf("durations read as %v and %v (%v)", time.Duration(f.Timeout), time.Duration(f.IdleTimeout), err)
	}
}

// TestShippedFuncYAML checks the project's own func.yaml.
func TestShippedFuncYAML(t *testing.T) {
	f, err := Read("../../func.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Runtime != "go" || f.Path != "/thumbs" || f.Name == "" || f.Version == "" {
		t.Errorf("func.yaml: %+v", f)
	}
	// The cold format ships: a hot route on IronFunctions 0.2.72 crashes
	// the server on one HEAD.
	if f.Format != "" && f.Format != "default" {
		t.Errorf("func.yaml ships format %q; hot is an opt-in", f.Format)
	}
	if time.Duration(f.Timeout) != 30*time.Second {
		t.Errorf("timeout %v, want 30s", time.Duration(f.Timeout))
	}
	if f.Memory == 0 || f.MaxConcurrency < 1 {
		t.Errorf("memory %d, max_concurrency %d", f.Memory, f.MaxConcurrency)
	}
	if len(f.Headers) != 0 {
		t.Errorf("route headers %v: IronFunctions sends them with errors too; keep them opt-in", f.Headers)
	}
}
