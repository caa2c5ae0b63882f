// Package funcfile reads func.yaml, the function's description for the
// fn CLI of IronFunctions 0.2, strictly: what fn would misread is an error
// here.
package funcfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iron-thumbs/iron_thumbs/internal/ironapi"
)

// File is func.yaml.
type File struct {
	Name           string              `yaml:"name"`
	Version        string              `yaml:"version"`
	Runtime        string              `yaml:"runtime"`
	Entrypoint     string              `yaml:"entrypoint,omitempty"`
	Cmd            string              `yaml:"cmd,omitempty"`
	Type           string              `yaml:"type,omitempty"`
	Format         string              `yaml:"format,omitempty"`
	Memory         uint64              `yaml:"memory,omitempty"`
	Timeout        Duration            `yaml:"timeout,omitempty"`
	IdleTimeout    Duration            `yaml:"idle_timeout,omitempty"`
	Headers        map[string][]string `yaml:"headers,omitempty"`
	Config         map[string]string   `yaml:"config,omitempty"`
	Build          []string            `yaml:"build,omitempty"`
	Path           string              `yaml:"path,omitempty"`
	MaxConcurrency int                 `yaml:"max_concurrency,omitempty"`
	JWTKey         string              `yaml:"jwt_key,omitempty"`
}

// Duration is a Go duration written with its unit ("30s"). fn reads a bare
// number as nanoseconds, so one is refused.
type Duration time.Duration

// UnmarshalYAML reads "30s" and refuses 30.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Tag != "!!str" {
		return fmt.Errorf("line %d: %q: write a Go duration with its unit, e.g. \"30s\" (fn reads a bare number as nanoseconds)", n.Line, n.Value)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q: %v", n.Line, n.Value, err)
	}
	*d = Duration(v)
	return nil
}

// Seconds returns the duration in whole seconds, as the API takes it.
func (d Duration) Seconds() int { return int(time.Duration(d) / time.Second) }

// Read reads and checks a func.yaml.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Parse reads and checks func.yaml's bytes. Unknown fields are errors.
func Parse(b []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("funcfile: %w", err)
	}
	return &f, f.Check()
}

// Check reports what fn or the server would refuse or misuse.
func (f *File) Check() error {
	var errs []error
	if f.Name == "" || f.Version == "" {
		errs = append(errs, errors.New("name and version are required (the image is name:version)"))
	}
	if f.Format != "" && f.Format != "default" && f.Format != "http" {
		errs = append(errs, fmt.Errorf("format %q: want default or http", f.Format))
	}
	if f.Type != "" && f.Type != "sync" && f.Type != "async" {
		errs = append(errs, fmt.Errorf("type %q: want sync or async", f.Type))
	}
	if f.Path != "" && (f.Path[0] != '/' || bytes.ContainsRune([]byte(f.Path), ':')) {
		errs = append(errs, fmt.Errorf("path %q: want /name without :params", f.Path))
	}
	if f.Timeout != 0 && time.Duration(f.Timeout)%time.Second != 0 {
		errs = append(errs, fmt.Errorf("timeout %v: the API takes whole seconds", time.Duration(f.Timeout)))
	}
	if err := (ironapi.Route{Format: f.Format, IdleTimeout: f.IdleTimeout.Seconds()}).Check(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("funcfile: %w", err)
	}
	return nil
}

// Image returns the image the route runs, name:version.
func (f *File) Image() string { return f.Name + ":" + f.Version }
