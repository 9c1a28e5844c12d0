// Package guid owns the agent GUIDs of the vendor's shape,
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.<node>": the random GUID of a sign-in,
// and the rotations of dynamic authentication, derived from a key so that
// rotating writes nothing and every node holding the key mints and recognises
// the same GUIDs.
package guid

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/ccgw/ccgw"
)

// New returns a sign-in's GUID for node: 128 random bits from crypto/rand.
func New(node string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("guid: crypto/rand: " + err.Error()) // crypto/rand does not fail on Linux
	}
	return shape(b, node)
}

// shape formats b as "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.<node>".
func shape(b [16]byte, node string) string {
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

// Rotated GUIDs are derived, not drawn: rotation n (1, 2, ...) of a sign-in is
//
//	bits = n (32) || HMAC-SHA256(key, agent || gen || loginTime || n)[:12] (96)
//
// in New's shape. Rotating therefore writes nothing (at a million agents and a
// 60 s GUIDINTERVAL that would be 16,700 durable writes a second), yet a rotation
// the store never saw survives a crash: after a restart a GUID the gateway
// issued but forgot is recognised by its MAC, and taken as the session's
// current one if its n is above the stored GUID's. Only the gateway's key can
// mint one, and 96 bits of MAC cannot be guessed. The key is kept by the store
// (docs/decisions.md, "Dynamic GUIDs without a write per rotation").

// KeyLen is the length of a key.
const KeyLen = 32

// NewKey returns a fresh random key.
func NewKey() []byte {
	k := make([]byte, KeyLen)
	if _, err := rand.Read(k); err != nil {
		panic("guid: crypto/rand: " + err.Error())
	}
	return k
}

// DeriveBits returns the 128 bits of rotation n of the sign-in (agent, gen, login).
func DeriveBits(key []byte, agent ccgw.AgentID, gen uint64, login int64, n uint32) (uint64, uint64) {
	var msg [24]byte
	binary.BigEndian.PutUint32(msg[0:], uint32(agent))
	binary.BigEndian.PutUint64(msg[4:], gen)
	binary.BigEndian.PutUint64(msg[12:], uint64(login))
	binary.BigEndian.PutUint32(msg[20:], n)
	mac := hmac.New(sha256.New, key)
	mac.Write(msg[:])
	var sum [sha256.Size]byte
	mac.Sum(sum[:0])
	g0 := uint64(n)<<32 | uint64(binary.BigEndian.Uint32(sum[0:4]))
	g1 := binary.BigEndian.Uint64(sum[4:12])
	return g0, g1
}

// Derive returns rotation n (n >= 1) of the GUID of the sign-in (agent, gen,
// login), with node as its suffix.
func Derive(key []byte, agent ccgw.AgentID, gen uint64, login int64, n uint32, node string) string {
	g0, g1 := DeriveBits(key, agent, gen, login, n)
	return Format(g0, g1, node)
}

// DerivedAt returns n if guid, with suffix node, is rotation n (n >= 1) of the
// GUID of the sign-in (agent, gen, login); false for any other GUID, the
// sign-in's own random one included. It compares in constant time.
func DerivedAt(key []byte, agent ccgw.AgentID, gen uint64, login int64, guid, node string) (uint32, bool) {
	g0, g1, ok := Bits(guid, node)
	if !ok {
		return 0, false
	}
	n := uint32(g0 >> 32)
	if n == 0 {
		return 0, false
	}
	w0, w1 := DeriveBits(key, agent, gen, login, n)
	// Constant time: the comparison must not tell a guesser how close it came.
	var a, b [16]byte
	binary.BigEndian.PutUint64(a[0:], g0)
	binary.BigEndian.PutUint64(a[8:], g1)
	binary.BigEndian.PutUint64(b[0:], w0)
	binary.BigEndian.PutUint64(b[8:], w1)
	return n, hmac.Equal(a[:], b[:])
}

// Derived is DerivedAt whatever node suffix guid carries.
func Derived(key []byte, agent ccgw.AgentID, gen uint64, login int64, guid string) (uint32, bool) {
	node, ok := Node(guid)
	if !ok {
		return 0, false
	}
	return DerivedAt(key, agent, gen, login, guid, node)
}

// Format writes 128 bits in New's shape.
func Format(g0, g1 uint64, node string) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:], g0)
	binary.BigEndian.PutUint64(b[8:], g1)
	return shape(b, node)
}

// Node returns the node suffix of a GUID of New's shape ("" and false if it
// has none).
func Node(guid string) (string, bool) {
	if len(guid) < 37 || guid[36] != '.' {
		return "", false
	}
	return guid[37:], true
}

// Bits parses a GUID of New's shape with suffix node into its 128 bits.
func Bits(g, node string) (uint64, uint64, bool) {
	if len(g) != 37+len(node) || g[36] != '.' || g[37:] != node {
		return 0, 0, false
	}
	var out [2]uint64
	n := 0
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if g[i] != '-' {
				return 0, 0, false
			}
			continue
		}
		c := g[i]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		default:
			return 0, 0, false
		}
		out[n/16] = out[n/16]<<4 | uint64(v)
		n++
	}
	return out[0], out[1], true
}
