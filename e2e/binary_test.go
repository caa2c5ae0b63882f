package e2e

import (
	"debug/elf"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestStaticBinary checks the binary the tests ran: the Makefile's (and so
// the Dockerfile's) static build under `make test`, the same flags otherwise.
func TestStaticBinary(t *testing.T) {
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary is dynamically linked (%v)", p.Type)
		}
	}
	if f.Section(".symtab") != nil {
		t.Error("binary is not stripped")
	}
	fi, _ := os.Stat(binary)
	size := fi.Size()
	if ca, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		size += ca.Size()
	}
	if size > 20<<20 {
		t.Errorf("binary plus CA bundle is %d bytes, want under 20 MB", size)
	}
	t.Logf("binary plus CA bundle: %.1f MB", float64(size)/(1<<20))
}

// TestVersion: the binary says which func.yaml version and which revision
// of the checkout it was built from.
func TestVersion(t *testing.T) {
	res := command(t, nil, "version")
	raw, _ := os.ReadFile("../func.yaml")
	m := regexp.MustCompile(`(?m)^version:\s*(\S+)`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("func.yaml has no version")
	}
	want := "iron_thumbs " + string(m[1]) + " (revision "
	if res.code != 0 || !strings.HasPrefix(res.stdout, want) {
		t.Fatalf("version: exit %d, %q; want %q...", res.code, res.stdout, want)
	}
	if head, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output(); err == nil {
		if !strings.Contains(res.stdout, strings.TrimSpace(string(head))) {
			t.Errorf("version %q does not name the checkout's revision %s", res.stdout, head)
		}
	}
}
