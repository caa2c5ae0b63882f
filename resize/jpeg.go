package resize

// A streaming JPEG decoder with DCT-domain downscaling: baseline files are
// decoded one MCU row at a time, progressive ones keep only the
// coefficients the chosen scale uses, so memory follows the reduced image,
// not the source.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// maxJPEGScans bounds the scans a file may have. Encoders write about ten
// (libjpeg's progressive script has ten); each scan can cost a pass over
// every block, so a crafted file with thousands of tiny scans would
// multiply the work.
const maxJPEGScans = 100

// JPEG markers (ITU T.81 table B.1).
const (
	jpegSOF0  = 0xc0 // baseline
	jpegSOF1  = 0xc1 // extended sequential, Huffman
	jpegSOF2  = 0xc2 // progressive, Huffman
	jpegDHT   = 0xc4
	jpegRST0  = 0xd0
	jpegRST7  = 0xd7
	jpegSOI   = 0xd8
	jpegEOI   = 0xd9
	jpegSOS   = 0xda
	jpegDQT   = 0xdb
	jpegDRI   = 0xdd
	jpegAPP0  = 0xe0
	jpegAPP1  = 0xe1
	jpegAPP14 = 0xee
	jpegAPP15 = 0xef
	jpegCOM   = 0xfe
)

// jpegZigzag[k] is the natural (row-major) index of the k-th coefficient
// in zigzag order.
var jpegZigzag = func() (z [64]uint8) {
	k := 0
	for s := 0; s < 15; s++ {
		lo, hi := max(0, s-7), min(s, 7)
		if s%2 == 0 {
			for r := hi; r >= lo; r-- {
				z[k] = uint8(8*r + s - r)
				k++
			}
		} else {
			for r := lo; r <= hi; r++ {
				z[k] = uint8(8*r + s - r)
				k++
			}
		}
	}
	return z
}()

func jpegCorrupt(msg string) error { return fmt.Errorf("%w: jpeg: %s", ErrCorrupt, msg) }

func jpegUnsupported(msg string) error { return fmt.Errorf("%w: jpeg: %s", ErrUnsupported, msg) }

// jpegSourceErr tells a file that ends too soon (corrupt) from a source
// that failed (storage, deadline), which callers must see as it is.
func jpegSourceErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return jpegCorrupt("unexpected end of file")
	}
	return fmt.Errorf("resize: reading jpeg: %w", err)
}

// jpegInfo is what the markers before the first scan say.
type jpegInfo struct {
	width, height int // stored orientation
	components    int // 1, 3 or 4
	progressive   bool
	orientation   int // EXIF, 1..8
}

// jpegSource is a buffered reader the entropy decoder can read straight
// from: buf[i:j] is unread.
type jpegSource struct {
	r    io.Reader // nil when buf holds all there is
	buf  []byte
	i, j int
	err  error // sticky read error

	// When chain is set, buf is part of chunk k of it, from lead on,
	// and r is unused: the two-core decoder's input (jpeg_chain.go).
	chain   *jpegChain
	id      int   // which of the chain's readers
	k, lead int   // the chunk, and where buf starts in it
	base    int64 // the scan offset of buf[0]
}

// more reads at least one byte more into buf, keeping buf[i:j]. It
// returns false at the end of input (s.err says why).
func (s *jpegSource) more() bool {
	if s.chain != nil {
		return s.moreChain()
	}
	if s.err != nil || s.r == nil {
		if s.err == nil {
			s.err = io.EOF
		}
		return false
	}
	if s.i > 0 {
		s.j = copy(s.buf, s.buf[s.i:s.j])
		s.i = 0
	}
	if s.j == len(s.buf) {
		// Callers only ask for more with a few bytes unread.
		s.buf = append(s.buf, make([]byte, len(s.buf))...)
	}
	for range 100 {
		n, err := s.r.Read(s.buf[s.j:])
		s.j += n
		if err != nil {
			s.err = err
		}
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
	s.err = io.ErrNoProgress
	return false
}

func (s *jpegSource) readByte() (byte, error) {
	if s.i == s.j && !s.more() {
		return 0, jpegSourceErr(s.err)
	}
	c := s.buf[s.i]
	s.i++
	return c, nil
}

func (s *jpegSource) readFull(p []byte) error {
	for len(p) > 0 {
		if s.i == s.j && !s.more() {
			return jpegSourceErr(s.err)
		}
		n := copy(p, s.buf[s.i:s.j])
		s.i += n
		p = p[n:]
	}
	return nil
}

func (s *jpegSource) skip(n int) error {
	for n > 0 {
		if s.i == s.j && !s.more() {
			return jpegSourceErr(s.err)
		}
		m := min(n, s.j-s.i)
		s.i += m
		n -= m
	}
	return nil
}

// jpegComp is one frame component.
type jpegComp struct {
	id     byte
	h, v   int // sampling factors
	tq     int // quantisation table
	bw, bh int // blocks in the MCU-padded grid
	cw, ch int // blocks that carry data in a non-interleaved scan

	// Buffered (progressive or multi-scan) mode: kept coefficients,
	// kept per block, and for partly kept bands which coefficients are
	// nonzero (successive-approximation refinement needs to know).
	coef []int16
	mask []uint64
	seen bool // in some scan (image/jpeg leaves a component of none black)
}

// jpegScan is a scan header.
type jpegScan struct {
	n              int
	comp           [4]int // frame component indices
	td, ta         [4]int
	ss, se, ah, al int
}

type jpegDecoder struct {
	src   jpegSource
	hdr   jpegInfo
	ncomp int
	comps [4]jpegComp

	sof        byte
	hmax, vmax int
	mcux, mcuy int

	quant  [4][64]int32 // zigzag order
	dc, ac [4]jpegHuff
	ri     int // restart interval, in MCUs

	jfif           bool
	adobe          bool
	adobeTransform byte

	scan     jpegScan
	scans    int
	buffered bool // progressive, or a sequential file of several scans
	eobrun   int
	pred     [4]int32 // DC predictors, by scan component

	// wild is set when coefficients go beyond what 8-bit data can hold:
	// outputs then legitimately differ between decoders (tests look).
	wild bool

	// rawHook, for tests, gets each component's samples at the reduced
	// scale before colour conversion: rows y0.. of component c.
	rawHook func(c, y0, n int, p []byte, stride int)

	bits jpegBits
}

// newJPEGDecoder reads markers from r up to the first SOS (not its
// entropy data).
func newJPEGDecoder(r io.Reader) (*jpegDecoder, error) {
	d := &jpegDecoder{src: jpegSource{r: r, buf: make([]byte, 64<<10)}}
	d.hdr.orientation = 1
	var soi [2]byte
	if err := d.src.readFull(soi[:]); err != nil {
		return nil, err
	}
	if soi[0] != 0xff || soi[1] != jpegSOI {
		return nil, jpegUnsupported("missing SOI marker")
	}
	for {
		m, err := d.nextMarker()
		if err != nil {
			return nil, err
		}
		if m == jpegEOI {
			return nil, jpegCorrupt("missing SOS marker")
		}
		sos, err := d.segment(m)
		if err != nil {
			return nil, err
		}
		if sos {
			break
		}
	}
	// A sequential file whose first scan lacks a component comes in
	// several scans, so it cannot be streamed: keep coefficients.
	d.buffered = d.hdr.progressive || d.scan.n != d.ncomp
	return d, nil
}

func (d *jpegDecoder) info() jpegInfo { return d.hdr }

// nextMarker finds the next marker, skipping what image/jpeg skips:
// stray bytes, fill bytes, "\xff\x00" and RSTn outside a scan.
func (d *jpegDecoder) nextMarker() (byte, error) {
	var p [2]byte
	if err := d.src.readFull(p[:]); err != nil {
		return 0, err
	}
	for {
		for p[0] != 0xff {
			p[0] = p[1]
			c, err := d.src.readByte()
			if err != nil {
				return 0, err
			}
			p[1] = c
		}
		m := p[1]
		for m == 0xff {
			c, err := d.src.readByte()
			if err != nil {
				return 0, err
			}
			m = c
		}
		if m != 0 && (m < jpegRST0 || m > jpegRST7) {
			return m, nil
		}
		if err := d.src.readFull(p[:]); err != nil {
			return 0, err
		}
	}
}

// segment handles the marker segment m (not SOI, EOI or RSTn), reporting
// whether it was an SOS, whose header is then in d.scan.
func (d *jpegDecoder) segment(m byte) (sos bool, err error) {
	var l [2]byte
	if err := d.src.readFull(l[:]); err != nil {
		return false, err
	}
	n := int(l[0])<<8 | int(l[1]) - 2
	if n < 0 {
		return false, jpegCorrupt("short segment length")
	}
	switch {
	case m == jpegSOF0 || m == jpegSOF1 || m == jpegSOF2:
		return false, d.sofSegment(m, n)
	case m == jpegDHT:
		return false, d.dhtSegment(n)
	case m == jpegDQT:
		return false, d.dqtSegment(n)
	case m == jpegDRI:
		if n != 2 {
			return false, jpegCorrupt("bad DRI length")
		}
		if err := d.src.readFull(l[:]); err != nil {
			return false, err
		}
		d.ri = int(l[0])<<8 | int(l[1])
		return false, nil
	case m == jpegSOS:
		return true, d.sosSegment(n)
	case m == jpegAPP0:
		return false, d.app0Segment(n)
	case m == jpegAPP1:
		return false, d.app1Segment(n)
	case m == jpegAPP14:
		return false, d.app14Segment(n)
	case m >= jpegAPP0 && m <= jpegAPP15 || m == jpegCOM:
		return false, d.src.skip(n)
	case m < 0xc0:
		return false, jpegCorrupt(fmt.Sprintf("unknown marker %#x", m))
	case m == 0xc3 || m >= 0xc5 && m <= 0xc7 || m >= 0xc9 && m <= 0xcb || m >= 0xcd && m <= 0xcf:
		return false, jpegUnsupported(fmt.Sprintf("lossless, hierarchical or arithmetic-coded frame (SOF %#x)", m))
	default:
		return false, jpegUnsupported(fmt.Sprintf("marker %#x", m))
	}
}

func (d *jpegDecoder) sofSegment(m byte, n int) error {
	if d.ncomp != 0 {
		return jpegCorrupt("multiple SOF markers")
	}
	switch n {
	case 6 + 3*1, 6 + 3*3, 6 + 3*4:
	default:
		return jpegUnsupported("number of components")
	}
	var p [6 + 3*4]byte
	if err := d.src.readFull(p[:n]); err != nil {
		return err
	}
	if p[0] != 8 {
		return jpegUnsupported(fmt.Sprintf("%d-bit precision", p[0]))
	}
	nc := (n - 6) / 3
	if int(p[5]) != nc {
		return jpegCorrupt("SOF has wrong length")
	}
	d.sof = m
	d.hdr.progressive = m == jpegSOF2
	d.hdr.height = int(p[1])<<8 | int(p[2])
	d.hdr.width = int(p[3])<<8 | int(p[4])
	d.hdr.components = nc
	if d.hdr.width == 0 || d.hdr.height == 0 {
		return jpegCorrupt("zero width or height")
	}
	for i := range nc {
		c := &d.comps[i]
		c.id = p[6+3*i]
		for j := range i {
			if d.comps[j].id == c.id {
				return jpegCorrupt("repeated component identifier")
			}
		}
		c.h, c.v = int(p[7+3*i]>>4), int(p[7+3*i]&15)
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 {
			return jpegCorrupt("bad sampling factors")
		}
		c.tq = int(p[8+3*i])
		if c.tq > 3 {
			return jpegCorrupt("bad quantisation table selector")
		}
		if nc == 1 {
			// A lone component is non-interleaved: its MCU is one block
			// whatever its factors say (T.81 A.2).
			c.h, c.v = 1, 1
		}
		d.hmax, d.vmax = max(d.hmax, c.h), max(d.vmax, c.v)
	}
	for i := range nc {
		c := &d.comps[i]
		if d.hmax%c.h != 0 || d.vmax%c.v != 0 {
			return jpegUnsupported("fractional sampling ratio")
		}
	}
	w, h := d.hdr.width, d.hdr.height
	d.mcux = (w + 8*d.hmax - 1) / (8 * d.hmax)
	d.mcuy = (h + 8*d.vmax - 1) / (8 * d.vmax)
	for i := range nc {
		c := &d.comps[i]
		c.bw, c.bh = d.mcux*c.h, d.mcuy*c.v
		cw := (w*c.h + d.hmax - 1) / d.hmax
		ch := (h*c.v + d.vmax - 1) / d.vmax
		c.cw, c.ch = (cw+7)/8, (ch+7)/8
	}
	d.ncomp = nc
	return nil
}

func (d *jpegDecoder) dqtSegment(n int) error {
	var p [128]byte
	for n > 0 {
		c, err := d.src.readByte()
		if err != nil {
			return err
		}
		n--
		tq := c & 15
		if tq > 3 {
			return jpegCorrupt("bad DQT table")
		}
		var size int
		switch c >> 4 {
		case 0:
			size = 64
		case 1:
			size = 128
		default:
			return jpegCorrupt("bad DQT precision")
		}
		if n < size {
			return jpegCorrupt("DQT has wrong length")
		}
		n -= size
		if err := d.src.readFull(p[:size]); err != nil {
			return err
		}
		q := &d.quant[tq]
		for k := range 64 {
			if size == 64 {
				q[k] = int32(p[k])
			} else {
				q[k] = int32(p[2*k])<<8 | int32(p[2*k+1])
				if q[k] > 255 {
					d.wild = true
				}
			}
		}
	}
	return nil
}

func (d *jpegDecoder) dhtSegment(n int) error {
	var p [17]byte
	var vals [256]byte
	for n > 0 {
		if n < 17 {
			return jpegCorrupt("DHT has wrong length")
		}
		if err := d.src.readFull(p[:]); err != nil {
			return err
		}
		tc, th := p[0]>>4, p[0]&15
		if tc > 1 || th > 3 || d.sof == jpegSOF0 && th > 1 {
			return jpegCorrupt("bad DHT table")
		}
		var counts [16]int
		total := 0
		for i := range counts {
			counts[i] = int(p[1+i])
			total += counts[i]
		}
		if total == 0 || total > 256 {
			return jpegCorrupt("bad Huffman table size")
		}
		n -= 17 + total
		if n < 0 {
			return jpegCorrupt("DHT has wrong length")
		}
		if err := d.src.readFull(vals[:total]); err != nil {
			return err
		}
		t := &d.dc[th]
		if tc == 1 {
			t = &d.ac[th]
		}
		t.build(&counts, vals[:total], tc == 1)
	}
	return nil
}

func (d *jpegDecoder) sosSegment(n int) error {
	if d.ncomp == 0 {
		return jpegCorrupt("missing SOF marker")
	}
	d.scans++
	if d.scans > maxJPEGScans {
		return jpegUnsupported(fmt.Sprintf("more than %d scans", maxJPEGScans))
	}
	if n < 6 || n > 4+2*d.ncomp || n%2 != 0 {
		return jpegCorrupt("SOS has wrong length")
	}
	var p [4 + 2*4]byte
	if err := d.src.readFull(p[:n]); err != nil {
		return err
	}
	s := jpegScan{n: int(p[0])}
	if n != 4+2*s.n {
		return jpegCorrupt("SOS length inconsistent with number of components")
	}
	hv := 0
	for i := range s.n {
		ci := -1
		for j := range d.ncomp {
			if d.comps[j].id == p[1+2*i] {
				ci = j
			}
		}
		if ci < 0 {
			return jpegCorrupt("unknown component selector")
		}
		for j := range i {
			if s.comp[j] == ci {
				return jpegCorrupt("repeated component selector")
			}
		}
		s.comp[i] = ci
		hv += d.comps[ci].h * d.comps[ci].v
		s.td[i], s.ta[i] = int(p[2+2*i]>>4), int(p[2+2*i]&15)
		lim := 3
		if d.sof == jpegSOF0 {
			lim = 1
		}
		if s.td[i] > lim || s.ta[i] > lim {
			return jpegCorrupt("bad Huffman table selector")
		}
	}
	if d.ncomp > 1 && hv > 10 {
		return jpegCorrupt("total sampling factors too large")
	}
	s.ss, s.se, s.ah, s.al = 0, 63, 0, 0
	if d.hdr.progressive {
		s.ss, s.se = int(p[1+2*s.n]), int(p[2+2*s.n])
		s.ah, s.al = int(p[3+2*s.n]>>4), int(p[3+2*s.n]&15)
		if s.ss == 0 && s.se != 0 || s.ss > s.se || s.se > 63 {
			return jpegCorrupt("bad spectral selection")
		}
		if s.ss != 0 && s.n != 1 {
			return jpegCorrupt("progressive AC scan of several components")
		}
		if s.ah != 0 && s.ah != s.al+1 {
			return jpegCorrupt("bad successive approximation")
		}
	}
	d.scan = s
	return nil
}

func (d *jpegDecoder) app0Segment(n int) error {
	if n < 5 {
		return d.src.skip(n)
	}
	var p [5]byte
	if err := d.src.readFull(p[:]); err != nil {
		return err
	}
	d.jfif = string(p[:]) == "JFIF\x00"
	return d.src.skip(n - 5)
}

func (d *jpegDecoder) app14Segment(n int) error {
	if n < 12 {
		return d.src.skip(n)
	}
	var p [12]byte
	if err := d.src.readFull(p[:]); err != nil {
		return err
	}
	if string(p[:5]) == "Adobe" {
		d.adobe = true
		d.adobeTransform = p[11]
	}
	return d.src.skip(n - 12)
}

// app1Segment reads the EXIF orientation. A segment is at most 64 KB, so
// holding one is bounded; only the first EXIF block counts.
func (d *jpegDecoder) app1Segment(n int) error {
	if n < 6 || d.hdr.orientation != 1 {
		return d.src.skip(n)
	}
	p := make([]byte, n)
	if err := d.src.readFull(p); err != nil {
		return err
	}
	if string(p[:6]) == "Exif\x00\x00" {
		d.hdr.orientation = exifOrientation(p[6:])
	}
	return nil
}

// exifOrientation finds tag 0x0112 in IFD0 of a TIFF block: 1..8, or 1
// when it is absent or makes no sense.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(t[2:]) != 42 {
		return 1
	}
	off := int64(bo.Uint32(t[4:]))
	if off+2 > int64(len(t)) {
		return 1
	}
	count := int64(bo.Uint16(t[off:]))
	for i := range count {
		e := off + 2 + 12*i
		if e+12 > int64(len(t)) {
			return 1
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		if bo.Uint16(t[e+2:]) != 3 || bo.Uint32(t[e+4:]) != 1 {
			return 1
		}
		if o := int(bo.Uint16(t[e+8:])); o >= 1 && o <= 8 {
			return o
		}
		return 1
	}
	return 1
}
