package e2e

import (
	"debug/elf"
	"os"
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
