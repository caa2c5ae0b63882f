package main

import (
	"context"
	"flag"
	"fmt"
)

// version and revision are stamped by the Makefile's build (-ldflags -X):
// func.yaml's version and the checkout's revision.
var (
	version  = "dev"
	revision = "unknown"
)

// versionString names this build: "0.1.0 (revision 1a2b3c4d5e6f)".
func versionString() string { return version + " (revision " + revision + ")" }

// runVersion prints the build's version.
func runVersion(_ context.Context, args []string, env *environment) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if _, err := parseFlags(fs, "iron_thumbs version", args, none, env.stdout); err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, "iron_thumbs", versionString())
	return nil
}
