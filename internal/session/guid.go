package session

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/ccgw/ccgw"
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
	return shapeGUID(b, node)
}

// shapeGUID formats b as "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.<node>".
func shapeGUID(b [16]byte, node string) string {
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
// in newGUID's shape. Rotating therefore writes nothing (at a million agents and a
// 60 s GUIDINTERVAL that would be 16,700 durable writes a second), yet a rotation
// the store never saw survives a crash: after a restart the Manager recognises a
// GUID it issued but forgot by its MAC, and takes it as the session's current one
// if its n is above the stored GUID's. Only the gateway's key can mint one, and
// 96 bits of MAC cannot be guessed. The key is kept by the store
// (docs/decisions.md, "Dynamic GUIDs without a write per rotation").

// guidKeyLen is the length of a GUID key.
const guidKeyLen = 32

// deriveBits returns the bits of rotation n of the sign-in (agent, gen, login).
func deriveBits(key []byte, agent ccgw.AgentID, gen uint64, login int64, n uint32) (uint64, uint64) {
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

// deriveGUID returns rotation n of session s's GUID, for node.
func deriveGUID(key []byte, s *ccgw.Session, n uint32, node string) string {
	g0, g1 := deriveBits(key, s.Agent, s.Gen, s.LoginTime, n)
	return formatGUID(g0, g1, node)
}

// derivedN returns n if guid is rotation n (n >= 1) of session s's GUID.
func derivedN(key []byte, s *ccgw.Session, guid, node string) (uint32, bool) {
	g0, g1, ok := guidBits(guid, node)
	if !ok {
		return 0, false
	}
	n := uint32(g0 >> 32)
	if n == 0 {
		return 0, false
	}
	w0, w1 := deriveBits(key, s.Agent, s.Gen, s.LoginTime, n)
	// Constant time: the comparison must not tell a guesser how close it came.
	var a, b [16]byte
	binary.BigEndian.PutUint64(a[0:], g0)
	binary.BigEndian.PutUint64(a[8:], g1)
	binary.BigEndian.PutUint64(b[0:], w0)
	binary.BigEndian.PutUint64(b[8:], w1)
	return n, hmac.Equal(a[:], b[:])
}

// formatGUID writes 128 bits in newGUID's shape.
func formatGUID(g0, g1 uint64, node string) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:], g0)
	binary.BigEndian.PutUint64(b[8:], g1)
	return shapeGUID(b, node)
}

// NewGUIDKey returns a fresh random key for Config.GUIDKey.
func NewGUIDKey() []byte {
	k := make([]byte, guidKeyLen)
	if _, err := rand.Read(k); err != nil {
		panic("session: crypto/rand: " + err.Error())
	}
	return k
}

// DeriveGUID returns rotation n (n >= 1) of the GUID of the sign-in (agent, gen,
// login), with node as its suffix. Stores that share sessions between nodes
// (internal/store/redis) derive rotations the same way as the Manager, so that
// every node that holds key mints, and recognises, the same GUIDs.
func DeriveGUID(key []byte, agent ccgw.AgentID, gen uint64, login int64, n uint32, node string) string {
	g0, g1 := deriveBits(key, agent, gen, login, n)
	return formatGUID(g0, g1, node)
}

// DerivedN returns n if guid is rotation n (n >= 1) of the GUID of the sign-in
// (agent, gen, login), whatever node suffix it carries; false for any other
// GUID, the sign-in's own random one included. It compares in constant time.
func DerivedN(key []byte, agent ccgw.AgentID, gen uint64, login int64, guid string) (uint32, bool) {
	node, ok := GUIDNode(guid)
	if !ok {
		return 0, false
	}
	return derivedN(key, &ccgw.Session{Agent: agent, Gen: gen, LoginTime: login}, guid, node)
}

// GUIDNode returns the node suffix of a GUID of newGUID's shape ("" and false if
// it has none).
func GUIDNode(guid string) (string, bool) {
	if len(guid) < 37 || guid[36] != '.' {
		return "", false
	}
	return guid[37:], true
}
