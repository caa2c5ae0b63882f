package thumbs

import (
	"context"
	"sync"
	"time"
)

// flights makes identical concurrent misses share one transform. The
// transform runs on its own deadline, not the first caller's, and each
// caller waits on its own; when the last caller has given up, the
// transform is cancelled, so no work goes on that nobody waits for.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done    chan struct{}
	val     *thumbnail
	err     error
	waiters int
	cancel  context.CancelFunc
}

// do runs fn once for concurrent calls with the same key, on a context
// that ends after timeout or when every caller's ctx has ended. shared
// says the result came from another caller's transform.
func (g *flights) do(ctx context.Context, key string, timeout time.Duration, fn func(context.Context) (*thumbnail, error)) (t *thumbnail, shared bool, err error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = map[string]*flight{}
	}
	f, shared := g.m[key]
	if shared {
		f.waiters++
	} else {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		f = &flight{done: make(chan struct{}), waiters: 1, cancel: cancel}
		g.m[key] = f
		go func() {
			defer cancel()
			f.val, f.err = fn(fctx)
			g.mu.Lock()
			if g.m[key] == f {
				delete(g.m, key)
			}
			g.mu.Unlock()
			close(f.done)
		}()
	}
	g.mu.Unlock()
	select {
	case <-f.done:
		return f.val, shared, f.err
	case <-ctx.Done():
		g.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			// Nobody waits: stop the work, and let the next caller start
			// afresh rather than join a cancelled transform.
			f.cancel()
			if g.m[key] == f {
				delete(g.m, key)
			}
		}
		g.mu.Unlock()
		return nil, shared, ctx.Err()
	}
}
