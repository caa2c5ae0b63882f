package resize

// unfilter reverses the row's filter in place; cur[0] is the filter type,
// prev the previous row, already unfiltered (zeros for the first row).
func unfilter(cur, prev []byte, bpp int) error {
	f := cur[0]
	cdat, pdat := cur[1:], prev[1:]
	switch f {
	case 0:
	case 1: // Sub
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += cdat[i-bpp]
		}
	case 2: // Up
		pdat = pdat[:len(cdat)]
		for i, p := range pdat {
			cdat[i] += p
		}
	case 3: // Average
		for i := 0; i < bpp; i++ {
			cdat[i] += pdat[i] / 2
		}
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += uint8((int(cdat[i-bpp]) + int(pdat[i])) / 2)
		}
	case 4: // Paeth
		paeth(cdat, pdat, bpp)
	default:
		return errCorruptPNG("bad filter type")
	}
	return nil
}

// paeth reverses the Paeth filter one channel at a time, keeping the left
// and upper-left bytes in registers.
func paeth(cdat, pdat []byte, bpp int) {
	pdat = pdat[:len(cdat)]
	for i := 0; i < bpp; i++ {
		var a, c int
		for j := i; j < len(cdat); j += bpp {
			b := int(pdat[j])
			pa := b - c
			pb := a - c
			pc := abs(pa + pb)
			pa = abs(pa)
			pb = abs(pb)
			if pa <= pb && pa <= pc {
				// a stays the prediction
			} else if pb <= pc {
				a = b
			} else {
				a = c
			}
			a = (a + int(cdat[j])) & 0xff
			cdat[j] = uint8(a)
			c = b
		}
	}
}

func abs(x int) int {
	m := x >> (64 - 1)
	return (x ^ m) - m
}
