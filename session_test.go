package ccgw

import (
	"testing"
	"unsafe"
)

// TestSessionSize: a Session packs into 280 bytes, so that internal/session's
// entry (the Session and 40 bytes of its own) fits a 320-byte allocation; a
// field added in the wrong place costs every live session 32 bytes
// (docs/benchmarks.md, "RSS per session").
func TestSessionSize(t *testing.T) {
	if n := unsafe.Sizeof(Session{}); n != 280 {
		t.Errorf("Session is %d bytes, want 280", n)
	}
}
