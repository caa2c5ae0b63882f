package main

import (
	"net/http"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// transformMemory is what one transform may use: every transform, whatever
// its source, stays under it (the README's Memory section has the
// measurements), so a route memory of 128 MB is always enough.
const transformMemory = 100 << 20

// limitMemory tells the garbage collector the process's bound, for
// transforms at once, so it collects before the heap doubles past it. An
// operator's GOMEMLIMIT wins.
func limitMemory(getenv func(string) string, transforms int) {
	if getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(int64(transforms) * transformMemory)
}

// heldLimit is how much memory a long-lived process keeps from the system
// after a call before it collects and hands the rest back: well above what
// a small call leaves (about 15 MB in all).
const heldLimit = 40 << 20

// releaseAfter returns memory to the system after a call that left much
// of it unused, so one large thumbnail does not pin a hot container (or the
// local server) at its peak until the next collection. At most one release
// runs at a time.
func releaseAfter(h http.Handler) http.Handler {
	var running atomic.Bool
	samples := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	var mu atomic.Bool // guards samples
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if !mu.CompareAndSwap(false, true) {
			return
		}
		metrics.Read(samples)
		held := samples[0].Value.Uint64() - samples[1].Value.Uint64()
		mu.Store(false)
		if held > heldLimit && running.CompareAndSwap(false, true) {
			go func() {
				defer running.Store(false)
				debug.FreeOSMemory()
			}()
		}
	})
}
