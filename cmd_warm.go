package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iron-thumbs/iron_thumbs/config"
	"github.com/iron-thumbs/iron_thumbs/store"
	"github.com/iron-thumbs/iron_thumbs/thumbs"
)

// runWarm makes the thumbnails of every original under the prefixes at the
// sizes asked, before traffic does: missing and stale ones (made from an
// original that has changed since). It can be stopped and run again: what
// is done stays done.
func runWarm(ctx context.Context, args []string, env *environment) error {
	fs := flag.NewFlagSet("warm", flag.ContinueOnError)
	local := fs.String("local", "", "warm the folders `DIR`/images and DIR/thumbs instead of S3")
	sizesFlag := fs.String("sizes", "", "the `WIDTHS` to make, e.g. 90,180,360 (default: THUMB_SIZES)")
	workers := fs.Int("concurrency", 0, "thumbnails made at once (default: THUMB_CONCURRENCY)")
	every := fs.Duration("progress", 10*time.Second, "how often to print progress when stderr is not a terminal")
	prefixes, err := parseFlags(fs, "iron_thumbs warm [-local DIR] [-sizes 90,180,360] [-concurrency N] [PREFIX...]",
		args, func(int) bool { return true }, env.stdout)
	if err != nil {
		return err
	}
	cfg, err := readConfig(env)
	if err != nil {
		return err
	}
	opts := cfg.Handler()
	sizes := cfg.Sizes
	if *sizesFlag != "" {
		if sizes, err = config.ParseSizes(*sizesFlag); err != nil {
			return thumbs.Errorf(thumbs.KindBadRequest, "-sizes %q: want widths like 90,180,360", *sizesFlag)
		}
	}
	if len(sizes) == 0 {
		return thumbs.Errorf(thumbs.KindBadRequest, "no sizes: give -sizes 90,180,360, or set THUMB_SIZES")
	}
	for _, w := range sizes {
		if err := opts.CheckSize(w); err != nil {
			return fmt.Errorf("-sizes: %w", err)
		}
	}
	if *workers < 1 {
		*workers = cfg.Concurrency
	}
	if len(prefixes) == 0 {
		prefixes = []string{""}
	}
	images, th, closeAll, err := openStores(cfg, *local)
	if err != nil {
		return err
	}
	defer closeAll()
	limitMemory(env.getenv, *workers)
	h := thumbs.New(opts, images, th, nil)

	w := &warmer{h: h, sizes: sizes, out: env.stderr, terminal: isTerminal(env.stderr), start: time.Now()}
	jobs := make(chan warmJob, 2**workers)
	var wg sync.WaitGroup
	for range *workers {
		wg.Go(func() {
			for j := range jobs {
				w.do(ctx, j)
			}
		})
	}
	stopProgress := w.progress(ctx, *every)
	var listErr error
	for _, prefix := range prefixes {
		listErr = images.Walk(ctx, prefix, func(it store.Item) error {
			w.originals.Add(1)
			for _, size := range sizes {
				w.total.Add(1)
				select {
				case jobs <- warmJob{it, size}:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
		if listErr != nil {
			break
		}
	}
	w.listed.Store(true)
	close(jobs)
	wg.Wait()
	stopProgress()
	fmt.Fprintln(env.stdout, w.summary())
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("warm: interrupted; run it again to go on: %w", ctx.Err())
	case listErr != nil:
		return listErr
	case w.firstFailure() != nil:
		return fmt.Errorf("warm: %d thumbnails failed; run it again to retry them: %w", w.failed.Load(), w.firstFailure())
	}
	return nil
}

type warmJob struct {
	item  store.Item
	width int
}

// warmer counts what warm does and reports it.
type warmer struct {
	h        *thumbs.Handler
	sizes    []int
	out      io.Writer
	terminal bool // out is one: progress is redrawn in place
	start    time.Time

	originals, total                   atomic.Int64
	made, fresh, refused, failed, done atomic.Int64
	listed                             atomic.Bool

	mu       sync.Mutex // the output, and the first failure
	firstErr error
}

func (w *warmer) do(ctx context.Context, j warmJob) {
	if ctx.Err() != nil {
		return
	}
	got, err := w.h.Warm(ctx, j.item.Key, j.item.ETag, j.width)
	defer w.done.Add(1)
	switch {
	case err == nil && got == thumbs.WarmMade:
		w.made.Add(1)
	case err == nil:
		w.fresh.Add(1)
	case ctx.Err() != nil:
		w.done.Add(-1) // not done: a rerun does it
	case thumbs.Refused(err):
		w.refused.Add(1)
		w.say("warm: refused %s at %d: %v", j.item.Key, j.width, err)
	default:
		w.failed.Add(1)
		w.mu.Lock()
		if w.firstErr == nil {
			w.firstErr = err
		}
		w.mu.Unlock()
		w.say("warm: failed %s at %d: %v", j.item.Key, j.width, err)
	}
}

func (w *warmer) firstFailure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.firstErr
}

// say prints a line, over the progress line on a terminal.
func (w *warmer) say(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.terminal {
		fmt.Fprint(w.out, "\r\033[K")
	}
	fmt.Fprintf(w.out, format+"\n", args...)
}

// status is one line of progress: done of total, rate, time left.
func (w *warmer) status() string {
	done, total := w.done.Load(), w.total.Load()
	elapsed := time.Since(w.start)
	rate := float64(done) / elapsed.Seconds()
	of := fmt.Sprintf("%d of %d", done, total)
	eta := "listing"
	if w.listed.Load() {
		eta = "ETA ?"
		if rate > 0 {
			eta = "ETA " + (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second).String()
		}
	} else {
		of += "+"
	}
	return fmt.Sprintf("warm: %s, %.1f/s, %s: %d made, %d fresh, %d refused, %d failed",
		of, rate, eta, w.made.Load(), w.fresh.Load(), w.refused.Load(), w.failed.Load())
}

// progress shows the status: redrawn in place on a terminal, a line every
// interval otherwise. The returned func stops it.
func (w *warmer) progress(ctx context.Context, every time.Duration) func() {
	terminal := w.terminal
	tick := every
	if terminal {
		tick = 250 * time.Millisecond
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-stop:
				if terminal {
					w.mu.Lock()
					fmt.Fprint(w.out, "\r\033[K")
					w.mu.Unlock()
				}
				return
			case <-ctx.Done():
				<-stop
				return
			case <-t.C:
				w.mu.Lock()
				if terminal {
					fmt.Fprint(w.out, "\r\033[K"+w.status())
				} else {
					fmt.Fprintln(w.out, w.status())
				}
				w.mu.Unlock()
			}
		}
	}()
	return func() { close(stop); <-done }
}

func (w *warmer) summary() string {
	return fmt.Sprintf("warm: %d thumbnails of %d originals at %d sizes in %v: %d made, %d already fresh, %d refused, %d failed",
		w.total.Load(), w.originals.Load(), len(w.sizes), time.Since(w.start).Round(time.Millisecond),
		w.made.Load(), w.fresh.Load(), w.refused.Load(), w.failed.Load())
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
