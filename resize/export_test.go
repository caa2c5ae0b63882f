package resize

// The steps of a thumbnail, one by one, for the benchmarks of the
// external test package.
var (
	Decode = decode
	Resize = resizeWidth
	Encode = encode
)
