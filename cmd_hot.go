package main

import (
	"context"
	"net/http"

	"github.com/iron-thumbs/iron_thumbs/ironfn"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

// runHot serves hot-format calls until stdin closes or a signal comes.
func runHot(ctx context.Context, env *environment) error {
	var h http.Handler
	th, _, closeStores, err := newHandler(env, "", false)
	h = th
	if err != nil {
		// A hot process that exits leaves the caller waiting for the route
		// timeout: answer every call with the configuration error instead.
		env.log.Error(err.Error())
		cerr := err
		h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { thumbs.WriteError(w, cerr) })
		closeStores = func() {}
	}
	defer closeStores()
	limitMemory(env.getenv, 1)
	if err := ironfn.Hot(ctx, releaseAfter(h), env.stdin, env.stdout); err != nil {
		return thumbs.Errorf(thumbs.KindInternal, "%v", err)
	}
	return nil
}
