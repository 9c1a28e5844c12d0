package session

import (
	"crypto/rand"
	"encoding/hex"
)

// NewGUID returns a new GUID for node; see newGUID.
func NewGUID(node string) string { return newGUID(node) }

// newGUID returns 128 random bits from crypto/rand in the vendor's shape,
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.<node>".
func newGUID(node string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("session: crypto/rand: " + err.Error()) // crypto/rand does not fail on Linux
	}
	var h [32]byte
	hex.Encode(h[:], b[:])
	out := make([]byte, 0, 37+len(node))
	out = append(out, h[0:8]...)
	out = append(out, '-')
	out = append(out, h[8:12]...)
	out = append(out, '-')
	out = append(out, h[12:16]...)
	out = append(out, '-')
	out = append(out, h[16:20]...)
	out = append(out, '-')
	out = append(out, h[20:32]...)
	out = append(out, '.')
	out = append(out, node...)
	return string(out)
}
