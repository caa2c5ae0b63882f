package testimages

import (
	"bytes"
	"flag"
	"image"
	"image/draw"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/ from the generators")

// TestTestdata keeps testdata/ what the generators draw. Encoders may
// change their bytes between Go releases, so pixels are compared.
func TestTestdata(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata")
	for name, want := range Testdata() {
		path := filepath.Join(dir, name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (regenerate with go test ./internal/testimages -update)", err)
			continue
		}
		if bytes.Equal(got, want) {
			continue
		}
		a, b := pixels(t, got), pixels(t, want)
		if a.Rect != b.Rect {
			t.Errorf("%s: size %v, generator draws %v", name, a.Rect, b.Rect)
			continue
		}
		tol := 0
		if filepath.Ext(name) == ".jpg" {
			tol = 8 // encoder rounding may differ between Go releases
		}
		for i := range a.Pix {
			if d := int(a.Pix[i]) - int(b.Pix[i]); d > tol || -d > tol {
				t.Errorf("%s differs from its generator at byte %d (regenerate with -update)", name, i)
				break
			}
		}
	}
}

func pixels(t *testing.T, data []byte) *image.NRGBA {
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out := image.NewNRGBA(img.Bounds())
	draw.Draw(out, out.Rect, img, img.Bounds().Min, draw.Src)
	return out
}

func TestBombIsSmall(t *testing.T) {
	b := Bomb(20000, 20000)
	if len(b) > 1<<20 {
		t.Errorf("bomb is %d bytes, want under 1 MiB", len(b))
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width != 20000 || cfg.Height != 20000 {
		t.Errorf("bomb header = %v, %v", cfg, err)
	}
}
