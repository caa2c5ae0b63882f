package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

// runPurge deletes every stored thumbnail of the named files.
func runPurge(ctx context.Context, args []string, env *environment) error {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	local := fs.String("local", "", "purge from the folder `DIR`/thumbs instead of S3")
	names, err := parseFlags(fs, "iron_thumbs purge [-local DIR] FILENAME...", args, func(n int) bool { return n > 0 }, env.stdout)
	if err != nil {
		return err
	}
	cfg, err := readConfig(env)
	if err != nil {
		return err
	}
	_, th, closeAll, err := openStores(cfg, *local)
	if err != nil {
		return err
	}
	defer closeAll()
	for _, name := range names {
		deleted, err := thumbs.Purge(ctx, th, name)
		for _, k := range deleted {
			fmt.Fprintln(env.stdout, "deleted", k)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}
