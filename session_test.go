package ccgw

import (
	"testing"
	"unsafe"
)

// TestSessionSize: a Session packs into 280 bytes; a field added in the wrong
// place costs every copy of it (the service decodes one per change, and
// lists copy them) padding.
func TestSessionSize(t *testing.T) {
	if n := unsafe.Sizeof(Session{}); n != 280 {
		t.Errorf("Session is %d bytes, want 280", n)
	}
}
