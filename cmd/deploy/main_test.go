package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iron-thumbs/iron_thumbs/internal/ironapi/ironapitest"
)

func TestDeployCommand(t *testing.T) {
	srv := ironapitest.New()
	defer srv.Close()
	dir := t.TempDir()
	envFile := filepath.Join(dir, "deploy.env")
	os.WriteFile(envFile, []byte(`# settings
S3_ENDPOINT=http://s3.internal:9000
S3_ACCESS_KEY="ak-secret-123"
export S3_SECRET_KEY='sk-secret-456'
`), 0o644)
	env := map[string]string{"API_URL": srv.URL, "THUMB_CACHE": "off"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	deploy := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		args = append([]string{"-f", "../../func.yaml", "-env", envFile}, args...)
		code := run(context.Background(), args, lookup, &out, &errOut)
		all := out.String() + errOut.String()
		if strings.Contains(all, "secret-123") || strings.Contains(all, "secret-456") {
			t.Errorf("a secret was printed:\n%s", all)
		}
		return code, all
	}
	if code, out := deploy("-dry-run"); code != 0 || len(srv.Mutations()) != 0 || !strings.Contains(out, "would send") {
		t.Fatalf("dry run: exit %d, %d requests:\n%s", code, len(srv.Mutations()), out)
	}
	if code, out := deploy(); code != 0 || !strings.Contains(out, "route iron_thumbs/thumbs: create") {
		t.Fatalf("deploy: exit %d:\n%s", code, out)
	}
	app := srv.App("iron_thumbs")
	if app.Config["S3_ACCESS_KEY"] != "ak-secret-123" || app.Config["S3_SECRET_KEY"] != "sk-secret-456" || app.Config["THUMB_CACHE"] != "off" {
		t.Errorf("app config %v", app.Config)
	}
	n := len(srv.Mutations())
	if code, out := deploy(); code != 0 || len(srv.Mutations()) != n || !strings.Contains(out, "up to date") {
		t.Errorf("second deploy: exit %d, %d new requests:\n%s", code, len(srv.Mutations())-n, out)
	}
	delete(env, "THUMB_CACHE")
	env["S3_SECRET_KEY"] = ""
	if code, out := deploy(); code != 1 || !strings.Contains(out, "S3_SECRET_KEY") {
		t.Errorf("deploy without a secret key: exit %d:\n%s", code, out)
	}
}
