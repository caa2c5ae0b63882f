package resize_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/iron-thumbs/iron_thumbs/internal/imgdiff"
	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
	"github.com/iron-thumbs/iron_thumbs/resize"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t testing.TB, data []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestThumbnails checks every testdata image against the reference, at
// a width below, equal to and above the source's.
func TestThumbnails(t *testing.T) {
	cases := []struct {
		file  string
		ctype string
	}{
		{"computer_cloud_system.png", "image/png"},
		{"screenshot.png", "image/png"},
		{"interlaced.png", "image/png"},
		{"gray16.png", "image/png"},
		{"rgba64.png", "image/png"},
		{"gray.png", "image/png"},
		{"palette.png", "image/png"},
		{"animated.gif", "image/png"},
		{"photo.jpg", "image/jpeg"},
	}
	for _, c := range cases {
		src := readTestdata(t, c.file)
		full := decode(t, src)
		sw, sh := full.Bounds().Dx(), full.Bounds().Dy()
		for _, width := range []int{1, 37, 90, sw - 1, sw, sw + 500} {
			res, err := resize.Thumbnail(context.Background(), bytes.NewReader(src), resize.Options{Width: width})
			if err != nil {
				t.Fatalf("%s at %d: %v", c.file, width, err)
			}
			if res.ContentType != c.ctype {
				t.Errorf("%s: content type %s, want %s", c.file, res.ContentType, c.ctype)
			}
			got := decode(t, res.Data)
			wantW := min(width, sw)
			wantH := max(1, int(float64(sh)*float64(wantW)/float64(sw)+0.5))
			if b := got.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
				t.Errorf("%s at %d: got %dx%d, want %dx%d", c.file, width, b.Dx(), b.Dy(), wantW, wantH)
				continue
			}
			if res.Width != wantW || res.Height != wantH {
				t.Errorf("%s at %d: result says %dx%d", c.file, width, res.Width, res.Height)
			}
			ref := imgdiff.Reference(full, width)
			if c.ctype == "image/jpeg" {
				// JPEG re-encoding loses detail; compare with the reference
				// through the same encoder.
				var b bytes.Buffer
				imaging.Encode(&b, ref, imaging.JPEG, imaging.JPEGQuality(85))
				ref = decode(t, b.Bytes())
			}
			if err := imgdiff.Within(got, ref); err != nil {
				t.Errorf("%s at %d: %v", c.file, width, err)
			}
		}
	}
}

func TestAlphaKept(t *testing.T) {
	res, err := resize.Thumbnail(context.Background(), bytes.NewReader(readTestdata(t, "computer_cloud_system.png")), resize.Options{Width: 180})
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, res.Data)
	if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
		t.Errorf("corner alpha = %d, want transparent", a)
	}
	if _, _, _, a := img.At(90, 50).RGBA(); a != 0xffff {
		t.Errorf("cloud alpha = %d, want opaque", a)
	}
}

// TestEXIFOrientation: rotated.jpg holds a 320×240 picture with
// orientation 6 (rotate 90° clockwise to display), so it is 240×320
// upright and its thumbnail is portrait.
func TestEXIFOrientation(t *testing.T) {
	res, err := resize.Thumbnail(context.Background(), bytes.NewReader(readTestdata(t, "rotated.jpg")), resize.Options{Width: 120})
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != 120 || res.Height != 160 {
		t.Fatalf("got %dx%d, want 120x160 (upright)", res.Width, res.Height)
	}
	// The stored picture's top-left corner is the upright picture's
	// top-right corner.
	stored := decode(t, readTestdata(t, "photo.jpg"))
	upright := imaging.Rotate270(stored)
	ref := imaging.Resize(upright, 120, 0, imaging.Lanczos)
	var b bytes.Buffer
	imaging.Encode(&b, ref, imaging.JPEG, imaging.JPEGQuality(85))
	if err := imgdiff.Within(decode(t, res.Data), decode(t, b.Bytes())); err != nil {
		t.Error(err)
	}
}

func TestGIFFirstFrame(t *testing.T) {
	res, err := resize.Thumbnail(context.Background(), bytes.NewReader(readTestdata(t, "animated.gif")), resize.Options{Width: 60})
	if err != nil {
		t.Fatal(err)
	}
	// The first frame has no blue; the second is all blue.
	_, _, b, _ := decode(t, res.Data).At(30, 20).RGBA()
	if b > 0x3000 {
		t.Errorf("blue = %#x: thumbnail is not of the first frame", b)
	}
}

func TestErrors(t *testing.T) {
	png := readTestdata(t, "computer_cloud_system.png")
	badCRC := bytes.Clone(png)
	badCRC[29] ^= 0xff // inside IHDR's CRC
	cases := []struct {
		name string
		data []byte
		opts resize.Options
		want error
	}{
		{"empty", nil, resize.Options{Width: 10}, resize.ErrUnsupported},
		{"text", []byte("hello, I am not an image"), resize.Options{Width: 10}, resize.ErrUnsupported},
		{"truncated", png[:len(png)/2], resize.Options{Width: 10}, resize.ErrCorrupt},
		{"bad crc", badCRC, resize.Options{Width: 10}, resize.ErrCorrupt},
		{"bomb", testimages.Bomb(20000, 20000), resize.Options{Width: 10, MaxPixels: 50_000_000}, resize.ErrTooLarge},
	}
	for _, c := range cases {
		_, err := resize.Thumbnail(context.Background(), bytes.NewReader(c.data), c.opts)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestOneByOne(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.NRGBA{1, 2, 3, 255})
	res, err := resize.Thumbnail(context.Background(), bytes.NewReader(testimages.EncodePNG(img)), resize.Options{Width: 180})
	if err != nil || res.Width != 1 || res.Height != 1 {
		t.Errorf("1x1 to 180: %v, %v", res, err)
	}
}

// TestQualityJPEG: thumbnails of JPEGs, decoded by our streaming decoder
// at a reduced DCT scale, meet the quality bar against the full image/jpeg
// decode resized by imaging's Lanczos, both through the same JPEG encoder:
// every fixture layout at small sizes, and a camera-like 12 MP photo at
// sizes that take each reduction (1/8, 1/4, 1/2, 1).
func TestQualityJPEG(t *testing.T) {
	photo := func() []byte {
		var b bytes.Buffer
		jpeg.Encode(&b, testimages.Photo(4000, 3000, 11), &jpeg.Options{Quality: 90})
		return b.Bytes()
	}()
	cases := map[string][]int{"12 MP photo": {180, 400, 1000, 2000, 4000}}
	sources := map[string][]byte{"12 MP photo": photo}
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "jpeg", "*.jpg"))
	for _, f := range files {
		name := filepath.Base(f)
		if name == "12bit.jpg" || name == "arith.jpg" || name == "progrst.jpg" {
			continue // refused, or refused by image/jpeg (see testdata/jpeg/README.md)
		}
		sources[name] = readTestdata(t, filepath.Join("jpeg", name))
		cases[name] = []int{7, 20, 30, 61}
	}
	for name, sizes := range cases {
		src := sources[name]
		full, err := jpeg.Decode(bytes.NewReader(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, w := range sizes {
			res, err := resize.Thumbnail(context.Background(), bytes.NewReader(src), resize.Options{Width: w})
			if err != nil {
				t.Fatalf("%s at %d: %v", name, w, err)
			}
			var b bytes.Buffer
			jpeg.Encode(&b, imgdiff.Reference(full, w), &jpeg.Options{Quality: 85})
			mad, psnr, err := imgdiff.Compare(decode(t, res.Data), decode(t, b.Bytes()))
			if err != nil || mad > imgdiff.MaxMAD || psnr < imgdiff.MinPSNR {
				t.Errorf("%s at %d: MAD %.3f, PSNR %.1f dB, %v", name, w, mad, psnr, err)
			}
		}
	}
}

// TestSourceSizeHint: a known source size changes how buffers are sized,
// never the thumbnail; a size that is wrong is refused or harmless, never
// a wrong picture.
func TestSourceSizeHint(t *testing.T) {
	var b bytes.Buffer
	jpeg.Encode(&b, testimages.Photo(1600, 1200, 4), &jpeg.Options{Quality: 90})
	src := b.Bytes()
	make1 := func(size int64) ([]byte, error) {
		// A reader without Len, as a network body is.
		res, err := resize.Thumbnail(context.Background(), io.MultiReader(bytes.NewReader(src)), resize.Options{Width: 180, SourceSize: size})
		if err != nil {
			return nil, err
		}
		return res.Data, nil
	}
	want, err := make1(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{int64(len(src)), int64(len(src)) + 1000} {
		if got, err := make1(size); err != nil || !bytes.Equal(got, want) {
			t.Errorf("SourceSize %d: %v, same thumbnail %v", size, err, bytes.Equal(got, want))
		}
	}
	if got, err := make1(int64(len(src)) / 2); err == nil && !bytes.Equal(got, want) {
		t.Error("a SourceSize too small made another picture")
	}
}
