package resize

import (
	"bufio"
	"fmt"
	"io"
)

// prefetch reads r ahead on its own goroutine, a few chunks at most, so
// the inflater never waits on the network. Stop it with the returned func.
func prefetch(r io.Reader) (io.Reader, func()) {
	const chunk, depth = 256 << 10, 4
	type piece struct {
		b   []byte
		err error
	}
	ch := make(chan piece, depth)
	free := make(chan []byte, depth+2)
	for range depth + 2 {
		free <- make([]byte, chunk)
	}
	stop := make(chan struct{})
	go func() {
		defer close(ch)
		for {
			var b []byte
			select {
			case b = <-free:
			case <-stop:
				return
			}
			n, err := io.ReadFull(r, b)
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			select {
			case ch <- piece{b[:n], err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	pr := &pieceReader{next: func() ([]byte, error, bool) {
		p, ok := <-ch
		return p.b, p.err, ok
	}, recycle: func(b []byte) {
		select {
		case free <- b[:cap(b)]:
		default:
		}
	}}
	return pr, func() { close(stop) }
}

// pieceReader reads the pieces prefetch hands over.
type pieceReader struct {
	next    func() ([]byte, error, bool)
	recycle func([]byte)
	cur     []byte
	rest    []byte
	err     error
}

func (p *pieceReader) Read(b []byte) (int, error) {
	for len(p.rest) == 0 {
		if p.cur != nil {
			p.recycle(p.cur)
			p.cur = nil
		}
		if p.err != nil {
			return 0, p.err
		}
		buf, err, ok := p.next()
		if !ok {
			if p.err == nil {
				p.err = io.EOF
			}
			return 0, p.err
		}
		p.cur, p.rest, p.err = buf, buf, err
	}
	n := copy(b, p.rest)
	p.rest = p.rest[n:]
	return n, nil
}

// capReader fails with ErrTooLarge past its limit.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("%w: source is more bytes than the limit", ErrTooLarge)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// sizedReader counts down the bytes left of a source of known size.
type sizedReader struct {
	r    io.Reader
	left int64
}

func (s *sizedReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.left -= int64(n)
	return n, err
}

// bufferedSize is a buffered reader over a source of known size that
// says how many bytes are left (Len), as bytes.Reader does: the JPEG
// decoder then holds a scan in one buffer of the right size.
type bufferedSize struct {
	*bufio.Reader
	under *sizedReader
}

// Len is the bytes left: those buffered and those not yet read.
func (b *bufferedSize) Len() int { return b.Buffered() + int(max(b.under.left, 0)) }
