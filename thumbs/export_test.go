package thumbs

import "github.com/iron-thumbs/iron_thumbs/resize"

// ResizeOptions is what a call asks the resizer for, for tests that make
// thumbnails the way a call does.
func (o Options) ResizeOptions(width int) resize.Options { return o.resize(width) }
