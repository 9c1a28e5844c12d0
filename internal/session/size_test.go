package session

import (
	"testing"
	"unsafe"
)

// TestEntrySize: a live session's entry fits a 320-byte allocation; the next
// size class is 352 (docs/benchmarks.md, "RSS per session").
func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(entry{}); n > 320 {
		t.Errorf("entry is %d bytes, want at most 320", n)
	}
}
