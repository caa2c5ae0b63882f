package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/iron-thumbs/iron_thumbs/internal/s3test"
)

// goMod returns go.mod's requirements: module -> version, and which are direct.
func goMod(t *testing.T) (map[string]string, map[string]bool) {
	out, err := exec.Command("go", "mod", "edit", "-json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var mod struct {
		Require []struct {
			Path, Version string
			Indirect      bool
		}
	}
	if err := json.Unmarshal(out, &mod); err != nil {
		t.Fatal(err)
	}
	versions, direct := map[string]string{}, map[string]bool{}
	for _, r := range mod.Require {
		versions[r.Path] = r.Version
		direct[r.Path] = !r.Indirect
	}
	return versions, direct
}

// repoRoot is the repository a module lives in.
func repoRoot(module string) string {
	parts := strings.Split(module, "/")
	if parts[0] == "github.com" && len(parts) > 3 {
		return strings.Join(parts[:3], "/")
	}
	return module
}

// TestGlideMatchesGoMod keeps glide.yaml in step with go.mod: the same
// direct dependencies, one entry per repository, the same versions; for
// aws-sdk-go-v2 the release tag of the release that made go.mod's versions.
func TestGlideMatchesGoMod(t *testing.T) {
	raw, err := os.ReadFile("glide.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var glide struct {
		Package string
		Import  []struct {
			Package     string
			Version     string
			Subpackages []string
		}
	}
	if err := yaml.Unmarshal(raw, &glide); err != nil {
		t.Fatal(err)
	}
	modPath, _ := exec.Command("go", "list", "-m").Output()
	if glide.Package != strings.TrimSpace(string(modPath)) {
		t.Errorf("glide package %q, module %q", glide.Package, modPath)
	}
	versions, direct := goMod(t)
	pinned := map[string]string{}
	for _, imp := range glide.Import {
		if _, dup := pinned[imp.Package]; dup {
			t.Errorf("%s listed twice", imp.Package)
		}
		pinned[imp.Package] = imp.Version
		if repoRoot(imp.Package) != imp.Package {
			t.Errorf("%s is not a repository root", imp.Package)
		}
	}
	for mod, isDirect := range direct {
		root := repoRoot(mod)
		v, ok := pinned[root]
		switch {
		case isDirect && !ok:
			t.Errorf("go.mod requires %s, glide.yaml lacks %s", mod, root)
		case ok && root == mod && !strings.HasPrefix(v, "release-") && v != versions[mod]:
			t.Errorf("%s: glide %s, go.mod %s", mod, v, versions[mod])
		}
	}
	for pkg := range pinned {
		if _, ok := versions[pkg]; !ok && pkg != "github.com/aws/aws-sdk-go-v2" {
			t.Errorf("glide.yaml pins %s, which go.mod does not require", pkg)
		}
	}
	// aws-sdk-go-v2: every module go.mod requires directly from it came out
	// in the release glide names.
	tag := pinned["github.com/aws/aws-sdk-go-v2"]
	date, ok := strings.CutPrefix(tag, "release-")
	if !ok {
		t.Fatalf("aws-sdk-go-v2 pinned to %q, want a release-YYYY-MM-DD tag", tag)
	}
	for mod, isDirect := range direct {
		if !isDirect || !strings.HasPrefix(mod, "github.com/aws/aws-sdk-go-v2") {
			continue
		}
		out, err := exec.Command("go", "list", "-m", "-json", mod).Output()
		if err != nil {
			t.Fatal(err)
		}
		var info struct{ Dir, Version string }
		json.Unmarshal(out, &info)
		if info.Dir == "" {
			t.Fatalf("%s is not downloaded", mod)
		}
		f, err := os.Open(filepath.Join(info.Dir, "CHANGELOG.md"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan()
		f.Close()
		// "# v1.114.10 (2026-11-10)" or, for the root module, "# Release (2026-11-10)".
		first := sc.Text()
		if !strings.Contains(first, "("+date+")") {
			t.Errorf("%s %s came out as %q, not in %s", mod, info.Version, first, tag)
		}
	}
	for _, imp := range glide.Import {
		if imp.Package != "github.com/aws/aws-sdk-go-v2" {
			continue
		}
		for mod, isDirect := range direct {
			sub, ok := strings.CutPrefix(mod, imp.Package+"/")
			if isDirect && ok && !slices.Contains(imp.Subpackages, sub) {
				t.Errorf("glide.yaml's aws-sdk-go-v2 subpackages lack %s", sub)
			}
		}
	}
}

func TestMakefilePinsTheTestedGateway(t *testing.T) {
	raw, _ := os.ReadFile("Makefile")
	m := regexp.MustCompile(`(?m)^VERSITYGW_VERSION\s*:=\s*(\S+)`).FindSubmatch(raw)
	if m == nil || string(m[1]) != s3test.Version {
		t.Errorf("Makefile pins versitygw %q, s3test expects %s", m, s3test.Version)
	}
}

// TestDockerfile: the image builds the binary with the Makefile's command
// and holds nothing but it, CA certificates and a non-root user.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	for _, want := range []string{"RUN make build", "ARG REVISION", "FROM scratch", "ca-certificates.crt", "USER 65534", `ENTRYPOINT ["/iron_thumbs"]`} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	mk, _ := os.ReadFile("Makefile")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w"} {
		if !strings.Contains(string(mk), want) {
			t.Errorf("the Makefile's build lacks %s", want)
		}
	}
}
