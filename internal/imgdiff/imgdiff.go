// Package imgdiff measures how far a thumbnail is from a reference, the
// tolerance every resizer of the project must meet: mean absolute
// difference per channel and PSNR, on alpha-premultiplied 8-bit values.
package imgdiff

import (
	"fmt"
	"image"
	"image/draw"
	"math"

	"github.com/disintegration/imaging"
)

// Tolerance is what a thumbnail must meet against the reference.
const (
	MaxMAD  = 1.0  // mean absolute difference per channel, 0-255 scale
	MinPSNR = 40.0 // dB
)

// Compare returns the mean absolute difference per channel and the PSNR of
// a against b, premultiplied by alpha. They must be the same size.
func Compare(a, b image.Image) (mad, psnr float64, err error) {
	pa, pb := premultiplied(a), premultiplied(b)
	if pa.Rect.Size() != pb.Rect.Size() {
		return 0, 0, fmt.Errorf("imgdiff: sizes differ: %v and %v", pa.Rect.Size(), pb.Rect.Size())
	}
	var sumAbs, sumSq float64
	for i := range pa.Pix {
		d := float64(pa.Pix[i]) - float64(pb.Pix[i])
		sumAbs += math.Abs(d)
		sumSq += d * d
	}
	n := float64(len(pa.Pix))
	mad = sumAbs / n
	mse := sumSq / n
	if mse == 0 {
		return mad, math.Inf(1), nil
	}
	return mad, 10 * math.Log10(255*255/mse), nil
}

// Within reports an error unless a meets the tolerance against b.
func Within(a, b image.Image) error {
	mad, psnr, err := Compare(a, b)
	if err != nil {
		return err
	}
	if mad > MaxMAD || psnr < MinPSNR {
		return fmt.Errorf("imgdiff: MAD %.3f (max %.1f), PSNR %.1f dB (min %.0f)", mad, MaxMAD, psnr, MinPSNR)
	}
	return nil
}

func premultiplied(img image.Image) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, img.Bounds().Dx(), img.Bounds().Dy()))
	draw.Draw(out, out.Rect, img, img.Bounds().Min, draw.Src)
	return out
}

// Reference is the thumbnail every resizer is held to: the full image
// resized to width with imaging's Lanczos filter, height rounded, never
// enlarged.
func Reference(full image.Image, width int) image.Image {
	if width >= full.Bounds().Dx() {
		return full
	}
	return imaging.Resize(full, width, 0, imaging.Lanczos)
}
