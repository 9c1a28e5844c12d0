package api

import (
	"testing"
	"unsafe"
)

// TestCallSize: a call, allocated per request, stays in the 112-byte size
// class the workbench found it in.
func TestCallSize(t *testing.T) {
	if n := unsafe.Sizeof(call{}); n > 112 {
		t.Fatalf("call is %d bytes, want at most 112", n)
	}
}
