package resize

import (
	"bufio"
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	kflate "github.com/klauspost/compress/flate"

	"github.com/iron-thumbs/iron_thumbs/internal/testimages"
)

// inflateAll inflates data with our inflater, reading into buffers of
// size bufSize, and checks that it stops on the stream's last byte.
func inflateAll(t testing.TB, data []byte, bufSize int) ([]byte, error) {
	t.Helper()
	const trailer = "TRAILER"
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(data), strings.NewReader(trailer)), 4096)
	f := newInflater(br)
	var out []byte
	buf := make([]byte, bufSize)
	for {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return out, err
		}
		if n == 0 {
			t.Fatalf("Read returned 0, nil")
		}
	}
	if n, err := f.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after the end: %d, %v", n, err)
	}
	return out, nil
}

// stdInflate inflates data with compress/flate, and tells how many bytes
// it read.
func stdInflate(data []byte, limit int64) ([]byte, error) {
	zr := flate.NewReader(bytes.NewReader(data))
	return io.ReadAll(io.LimitReader(zr, limit))
}

func deflate(t testing.TB, data []byte, level int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// samples are varied uncompressed inputs.
func inflateSamples(t testing.TB) map[string][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 200<<10)
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
	text := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 3000))
	for i := 0; i < len(text); i += 97 {
		text[i] = byte('a' + r.IntN(26))
	}
	runs := make([]byte, 300<<10)
	for i := 0; i < len(runs); {
		n := 1 + r.IntN(700)
		b := byte(r.IntN(4))
		for j := 0; j < n && i < len(runs); j++ {
			runs[i] = b
			i++
		}
	}
	// Long-range repeats: matches at distance 32768 and 258-long ones.
	far := make([]byte, 32768)
	for i := range far {
		far[i] = byte(r.Uint32())
	}
	far = append(far, far...)
	far = append(far, far[:5000]...)
	return map[string][]byte{
		"empty":        nil,
		"one":          {42},
		"zeros":        make([]byte, 1<<20),
		"noise":        noise,
		"text":         text,
		"runs":         runs,
		"far":          far,
		"photo":        pngRows(t, testimages.EncodePNG(testimages.Photo(300, 200, 3))),
		"screenshot":   pngRows(t, testimages.EncodePNG(testimages.Screenshot(320, 200))),
		"illustration": pngRows(t, testimages.EncodePNG(testimages.Illustration(200, 200))),
	}
}

// pngIDAT returns the raw deflate stream of a PNG's image data: the
// IDAT chunks' data without the zlib header and checksum.
func pngIDAT(data []byte) []byte {
	var z []byte
	for p := 8; p+8 <= len(data); {
		n := int(data[p])<<24 | int(data[p+1])<<16 | int(data[p+2])<<8 | int(data[p+3])
		if string(data[p+4:p+8]) == "IDAT" {
			z = append(z, data[p+8:p+8+n]...)
		}
		p += 12 + n
	}
	if len(z) < 6 {
		panic("no image data")
	}
	return z[2 : len(z)-4]
}

// pngRows returns a PNG's filtered rows, decompressed.
func pngRows(t testing.TB, data []byte) []byte {
	t.Helper()
	rows, err := stdInflate(pngIDAT(data), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestInflateRoundTrip(t *testing.T) {
	for name, data := range inflateSamples(t) {
		for level := -2; level <= 9; level++ {
			z := deflate(t, data, level)
			for _, size := range []int{1, 7, 4096, 1 << 20} {
				if size < 4096 && len(data) > 64<<10 {
					continue
				}
				got, err := inflateAll(t, z, size)
				if err != nil {
					t.Fatalf("%s level %d, %d-byte reads: %v", name, level, size, err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("%s level %d, %d-byte reads: output differs (%d bytes, want %d)", name, level, size, len(got), len(data))
				}
			}
		}
	}
}

// benchDeflate is the raw deflate stream of the bench's 12 MP photo.
var benchDeflate = sync.OnceValue(func() []byte {
	return pngIDAT(testimages.EncodePNG(testimages.Photo(4000, 3000, 1)))
})

// BenchmarkInflate inflates the 12 MP photo's image data, read in 1 MiB
// batches as the PNG path does, with ours and the two others. Bytes are
// the compressed size.
func BenchmarkInflate(b *testing.B) {
	z := benchDeflate()
	for _, dec := range []struct {
		name string
		new  func(io.Reader) io.Reader
	}{
		{"ours", func(r io.Reader) io.Reader { return newInflater(r) }},
		{"klauspost", func(r io.Reader) io.Reader { return kflate.NewReader(r) }},
		{"stdlib", func(r io.Reader) io.Reader { return flate.NewReader(r) }},
	} {
		b.Run(dec.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(z)))
			buf := make([]byte, 1<<20)
			for b.Loop() {
				r := dec.new(bufio.NewReaderSize(bytes.NewReader(z), 32<<10))
				for {
					_, err := io.ReadFull(r, buf)
					if err == io.EOF || err == io.ErrUnexpectedEOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
