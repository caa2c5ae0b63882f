package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iron-thumbs/iron_thumbs/internal/ironrunner"
)

// TestWarm runs warm against the S3 server: the thumbnails it makes are
// hits for the calls that follow; a thumbs bucket it cannot write is a
// failure a rerun could mend (exit 69); an interrupt stops it at once,
// and what it did stays done.
func TestWarm(t *testing.T) {
	b := newBuckets(t, true)
	ctx := context.Background()
	env := map[string]string{
		"S3_ENDPOINT": s3.Endpoint, "S3_ACCESS_KEY": s3.AccessKey, "S3_SECRET_KEY": s3.SecretKey,
		"IMAGE_BUCKET": b.images.Name(), "THUMB_BUCKET": b.thumbs.Name(),
	}
	res := command(t, env, "warm", "-sizes", "90,180", "-progress", "1ms", "folder/")
	if res.code != 0 || !strings.Contains(res.stdout, "2 thumbnails of 1 originals at 2 sizes") || !strings.Contains(res.stdout, "2 made") {
		t.Fatalf("warm: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stderr, "warm: ") || strings.Contains(res.stderr, "\033[K") {
		t.Errorf("progress on a pipe: plain lines wanted, got %q", res.stderr)
	}
	r := b.route("default", nil)
	call := r.RunCold(ctx, ironrunner.Call{URL: thumbsURL("filename=folder%2Fmy+cat+%E7%8C%AB.png&size=90")})
	if call.ExitCode != 0 || !strings.Contains(call.Stderr, "outcome=hit") {
		t.Errorf("a warmed thumbnail is not a hit: exit %d %s", call.ExitCode, call.Stderr)
	}

	env["THUMB_BUCKET"] = "no-such-bucket"
	res = command(t, env, "warm", "-sizes", "90", "gray.png")
	if res.code != 69 || !strings.Contains(res.stdout, "1 failed") || !strings.Contains(res.stderr, "run it again") {
		t.Errorf("unwritable thumbs: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}

	env["THUMB_BUCKET"] = b.thumbs.Name()
	for i := range 6 {
		b.images.Put(ctx, "slow/"+string(rune('a'+i))+".png", adversarial()["tall.png"], "", nil)
	}
	cmd := exec.Command(binary, "warm", "-sizes", "180", "-concurrency", "1", "slow/")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 75 || time.Since(start) > 2*time.Second {
		t.Errorf("interrupted: %v after %v\n%s", err, time.Since(start), out.String())
	}
	if !strings.Contains(out.String(), "interrupted; run it again") {
		t.Errorf("interrupted: %s", out.String())
	}
}
