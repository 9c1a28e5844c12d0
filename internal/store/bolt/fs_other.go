//go:build !unix

package bolt

import (
	"io"
	"os"
)

// mapFile reads the first size bytes of f (no map here) and returns them.
func mapFile(f *os.File, size int64) ([]byte, func(), error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, nil, err
	}
	return b, func() {}, nil
}

// freeBytes cannot tell here: ok is false.
func freeBytes(string) (uint64, bool) { return 0, false }
