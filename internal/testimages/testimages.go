// Package testimages draws the project's test and benchmark images
// deterministically: the same bytes on every machine and every run, so
// testdata/ can be checked against it and large images need not be
// committed.
package testimages

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"sync"
)

// Illustration draws the 400×400 clip-art-like picture of the 2017
// benchmark, computer_cloud_system.png: a cloud over a computer on a
// transparent background, with smooth anti-aliased edges.
func Illustration(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	sx, sy := float64(w)/400, float64(h)/400
	type circle struct{ x, y, r float64 }
	cloud := []circle{{140, 120, 55}, {200, 95, 70}, {265, 125, 50}, {110, 150, 35}, {300, 150, 35}, {200, 150, 50}}
	inCloud := func(x, y float64) bool {
		if y > 185 {
			return false
		}
		for _, c := range cloud {
			if (x-c.x)*(x-c.x)+(y-c.y)*(y-c.y) < c.r*c.r {
				return true
			}
		}
		return false
	}
	roundRect := func(x, y, x0, y0, x1, y1, r float64) bool {
		cx := math.Max(x0+r, math.Min(x, x1-r))
		cy := math.Max(y0+r, math.Min(y, y1-r))
		return x >= x0 && x <= x1 && y >= y0 && y <= y1 && (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r
	}
	// shade returns the colour at a point of the 400×400 design, or false
	// for background.
	shade := func(x, y float64) (r, g, b float64, ok bool) {
		switch {
		case inCloud(x, y):
			t := (y - 25) / 160
			return 120 + 100*(1-t), 180 + 60*(1-t), 245, true
		case x > 196 && x < 204 && y > 185 && y < 232: // the link from cloud to computer
			return 90, 90, 110, true
		case roundRect(x, y, 138, 244, 262, 318, 4): // screen
			t := (x - 138) / 124
			return 40 + 60*t, 120 + 80*t, 200 - 40*t, true
		case roundRect(x, y, 126, 232, 274, 330, 10): // monitor
			return 55, 60, 72, true
		case x > 188 && x < 212 && y >= 330 && y < 352: // neck
			return 75, 80, 92, true
		case roundRect(x, y, 150, 352, 250, 364, 5): // foot
			return 55, 60, 72, true
		}
		return 0, 0, 0, false
	}
	const ss = 4 // 4×4 samples per pixel
	for py := range h {
		for px := range w {
			var r, g, b, n float64
			for j := range ss {
				for i := range ss {
					x := (float64(px) + (float64(i)+0.5)/ss) / sx
					y := (float64(py) + (float64(j)+0.5)/ss) / sy
					if cr, cg, cb, ok := shade(x, y); ok {
						r, g, b, n = r+cr, g+cg, b+cb, n+1
					}
				}
			}
			if n == 0 {
				continue
			}
			o := img.PixOffset(px, py)
			img.Pix[o+0] = uint8(r/n + 0.5)
			img.Pix[o+1] = uint8(g/n + 0.5)
			img.Pix[o+2] = uint8(b/n + 0.5)
			img.Pix[o+3] = uint8(255*n/(ss*ss) + 0.5)
		}
	}
	return img
}

// rng is a small deterministic generator (xorshift), so images do not
// depend on math/rand's algorithm.
type rng uint64

func (r *rng) next() uint64 {
	x := uint64(*r)
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	*r = rng(x)
	return x
}

// Photo draws a photo-like opaque picture: smooth gradients and shapes with
// fine noise and texture on top, as hard to compress as a real photograph.
func Photo(w, h int, seed uint64) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := rng(seed | 1)
	fw, fh := float64(w), float64(h)
	for y := range h {
		fy := float64(y) / fh
		row := img.Pix[y*img.Stride:]
		for x := range w {
			fx := float64(x) / fw
			base := [3]float64{
				90 + 80*math.Sin(3*fx+1.3*fy) + 40*fy,
				110 + 70*math.Sin(2.2*fy+0.7) + 30*math.Cos(5*fx),
				120 + 90*math.Cos(1.7*fx-2.1*fy),
			}
			tex := 14 * math.Sin(float64(x)*0.37+float64(y)*0.23) * math.Cos(float64(y)*0.11)
			n := r.next()
			for c := range 3 {
				v := base[c] + tex + float64(int(n>>(8*c))&31) - 15
				row[4*x+c] = uint8(math.Max(0, math.Min(255, v)))
			}
			row[4*x+3] = 255
		}
	}
	return img
}

// Screenshot draws a screenshot-like picture: flat panels, text-like
// strokes and sharp edges, which compress well.
func Screenshot(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := rng(7)
	for y := range h {
		for x := range w {
			o := img.PixOffset(x, y)
			c := [4]uint8{246, 247, 249, 255}
			switch {
			case y < 40:
				c = [4]uint8{45, 50, 62, 255}
			case x < 260:
				c = [4]uint8{232, 235, 240, 255}
			}
			copy(img.Pix[o:o+4], c[:])
		}
	}
	// Lines of "text": short dark runs on a baseline grid.
	for line := 60; line+12 < h; line += 22 {
		x := 280
		for x < w-40 {
			word := 20 + int(r.next()%70)
			for yy := line; yy < line+10; yy++ {
				for xx := x; xx < x+word && xx < w-40; xx++ {
					if (xx+yy)%3 != 0 {
						o := img.PixOffset(xx, yy)
						copy(img.Pix[o:o+4], []uint8{60, 64, 72, 255})
					}
				}
			}
			x += word + 8
		}
	}
	return img
}

// EncodePNG encodes img with the default settings.
func EncodePNG(img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// Gray16 returns a 16-bit grey PNG of a gradient.
func Gray16(w, h int) []byte {
	img := image.NewGray16(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetGray16(x, y, color.Gray16{Y: uint16((x*65535/w + y*977) % 65536)})
		}
	}
	return EncodePNG(img)
}

// RGBA64 returns a 16-bit-per-channel PNG with alpha.
func RGBA64(w, h int) []byte {
	img := image.NewNRGBA64(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA64(x, y, color.NRGBA64{
				R: uint16(x * 65535 / w), G: uint16(y * 65535 / h), B: 40000,
				A: uint16(65535 - (x*y*65535)/(w*h)),
			})
		}
	}
	return EncodePNG(img)
}

// Gray returns an 8-bit grey PNG.
func Gray(w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetGray(x, y, color.Gray{Y: uint8((x + 2*y) * 255 / (w + 2*h))})
		}
	}
	return EncodePNG(img)
}

// Paletted returns a palette PNG whose palette holds transparent and
// half-transparent entries (a tRNS chunk).
func Paletted(w, h int) []byte {
	pal := color.Palette{
		color.NRGBA{0, 0, 0, 0},
		color.NRGBA{200, 30, 30, 255},
		color.NRGBA{30, 160, 60, 255},
		color.NRGBA{40, 60, 200, 128},
	}
	img := image.NewPaletted(image.Rect(0, 0, w, h), pal)
	for y := range h {
		for x := range w {
			img.SetColorIndex(x, y, uint8((x/8+y/8)%len(pal)))
		}
	}
	return EncodePNG(img)
}

// GIF returns a two-frame animated GIF; only its first frame (a
// horizontal gradient) makes a thumbnail.
func GIF(w, h int) []byte {
	frames := make([]*image.Paletted, 2)
	for i := range frames {
		f := image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)
		for y := range h {
			for x := range w {
				c := color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8(i * 255), 255}
				f.Set(x, y, c)
			}
		}
		frames[i] = f
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: frames, Delay: []int{10, 10}}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// JPEG returns a photo-like JPEG; with orientation > 1 it carries an EXIF
// block with that orientation, the way phones store a rotated picture.
func JPEG(w, h int, orientation int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, Photo(w, h, 3), &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	if orientation <= 1 {
		return b.Bytes()
	}
	return withOrientation(b.Bytes(), orientation)
}

// withOrientation inserts an APP1 EXIF segment holding only the
// orientation tag right after the JPEG's SOI marker.
func withOrientation(jpg []byte, orientation int) []byte {
	var tiff bytes.Buffer
	le := binary.BigEndian
	tiff.WriteString("MM")
	binary.Write(&tiff, le, uint16(42))
	binary.Write(&tiff, le, uint32(8)) // IFD0 offset
	binary.Write(&tiff, le, uint16(1)) // one entry
	binary.Write(&tiff, le, uint16(0x0112))
	binary.Write(&tiff, le, uint16(3)) // SHORT
	binary.Write(&tiff, le, uint32(1))
	binary.Write(&tiff, le, uint16(orientation))
	binary.Write(&tiff, le, uint16(0))
	binary.Write(&tiff, le, uint32(0)) // no next IFD
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

// Interlaced encodes img (8-bit RGBA) as an Adam7-interlaced PNG, which
// image/png can read but not write.
func Interlaced(img *image.NRGBA) []byte {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	passes := []struct{ x0, y0, dx, dy int }{
		{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2},
	}
	var raw bytes.Buffer
	for _, p := range passes {
		for y := p.y0; y < h; y += p.dy {
			if p.x0 >= w {
				break
			}
			raw.WriteByte(0) // filter: none
			for x := p.x0; x < w; x += p.dx {
				o := img.PixOffset(x, y)
				raw.Write(img.Pix[o : o+4])
			}
		}
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw.Bytes())
	zw.Close()
	return pngFile(w, h, 6, 1, z.Bytes()) // 8-bit RGBA, Adam7
}

// RawPNG writes a PNG of any layout the format defines, for decoder
// tests: depth bits per sample, the colour type (0 grey, 2 RGB, 3
// palette, 4 grey+alpha, 6 RGBA), Adam7-interlaced or not. sample gives
// channel ch of pixel (x, y), below 1<<depth. plte and trns, when not
// nil, become PLTE and tRNS chunks. Rows use filter types 0 to 4 in turn.
func RawPNG(w, h, depth, colorType int, interlaced bool, sample func(x, y, ch int) uint16, plte, trns []byte) []byte {
	channels := map[int]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colorType]
	bpp := channels * depth
	var raw bytes.Buffer
	for _, p := range adam7(interlaced) {
		if p.x0 >= w || p.y0 >= h {
			continue
		}
		pw := (w - p.x0 + p.dx - 1) / p.dx
		stride := (pw*bpp + 7) / 8
		prev := make([]byte, stride)
		for y := p.y0; y < h; y += p.dy {
			row := make([]byte, stride)
			bit := 0
			for x := p.x0; x < w; x += p.dx {
				for ch := range channels {
					v := sample(x, y, ch)
					switch depth {
					case 16:
						row[bit/8], row[bit/8+1] = byte(v>>8), byte(v)
					case 8:
						row[bit/8] = byte(v)
					default:
						row[bit/8] |= byte(v) << (8 - depth - bit%8)
					}
					bit += depth
				}
			}
			ft := byte(y % 5)
			raw.WriteByte(ft)
			raw.Write(filterRow(ft, row, prev, max(1, bpp/8)))
			prev = row
		}
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw.Bytes())
	zw.Close()
	return assemble(w, h, depth, colorType, interlaced, plte, trns, z.Bytes())
}

// filterRow applies PNG filter type ft to row, given the previous row.
func filterRow(ft byte, row, prev []byte, bpp int) []byte {
	out := make([]byte, len(row))
	for i := range row {
		var a, b, c int
		if i >= bpp {
			a, c = int(row[i-bpp]), int(prev[i-bpp])
		}
		b = int(prev[i])
		var pred int
		switch ft {
		case 1:
			pred = a
		case 2:
			pred = b
		case 3:
			pred = (a + b) / 2
		case 4:
			p := a + b - c
			pa, pb, pc := abs(p-a), abs(p-b), abs(p-c)
			switch {
			case pa <= pb && pa <= pc:
				pred = a
			case pb <= pc:
				pred = b
			default:
				pred = c
			}
		}
		out[i] = row[i] - byte(pred)
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// pngFile assembles an 8-bit PNG of the colour type and interlace method
// around compressed image data.
func pngFile(w, h int, colorType, interlace byte, idat []byte) []byte {
	return assemble(w, h, 8, int(colorType), interlace == 1, nil, nil, idat)
}

// InsertChunk returns p, a PNG, with a chunk put right after IHDR.
func InsertChunk(p []byte, typ string, data []byte) []byte {
	var c bytes.Buffer
	chunk(&c, typ, data)
	out := append([]byte{}, p[:33]...)
	out = append(out, c.Bytes()...)
	return append(out, p[33:]...)
}

func chunk(out *bytes.Buffer, typ string, data []byte) {
	binary.Write(out, binary.BigEndian, uint32(len(data)))
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	out.WriteString(typ)
	out.Write(data)
	binary.Write(out, binary.BigEndian, crc.Sum32())
}

var bombs sync.Map // [2]int -> []byte: deflating the bomb takes a second

// Bomb returns a small PNG whose header claims w×h pixels of one colour:
// a decompression bomb ("pixel flood") of a few hundred kilobytes.
func Bomb(w, h int) []byte {
	if b, ok := bombs.Load([2]int{w, h}); ok {
		return b.([]byte)
	}
	b := bomb(w, h)
	bombs.Store([2]int{w, h}, b)
	return b
}

func bomb(w, h int) []byte {
	row := make([]byte, 1+w) // filter byte + one grey byte per pixel
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	for range h {
		zw.Write(row)
	}
	zw.Close()
	return pngFile(w, h, 0, 0, z.Bytes()) // 8-bit grey
}

// Testdata returns the files of testdata/, by name.
func Testdata() map[string][]byte {
	return map[string][]byte{
		"computer_cloud_system.png": EncodePNG(Illustration(400, 400)),
		"photo.jpg":                 JPEG(320, 240, 1),
		"rotated.jpg":               JPEG(320, 240, 6),
		"animated.gif":              GIF(120, 80),
		"gray16.png":                Gray16(200, 100),
		"rgba64.png":                RGBA64(160, 120),
		"gray.png":                  Gray(150, 100),
		"palette.png":               Paletted(128, 96),
		"interlaced.png":            Interlaced(Illustration(200, 200)),
		"screenshot.png":            EncodePNG(Screenshot(480, 270)),
	}
}
