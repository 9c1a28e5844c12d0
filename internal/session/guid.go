package session

import (
	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/guid"
)

// The session's GUIDs are internal/guid's; these name its uses here.

func newGUID(node string) string { return guid.New(node) }

// deriveGUID returns rotation n of session s's GUID, for node.
func deriveGUID(key []byte, s *ccgw.Session, n uint32, node string) string {
	return guid.Derive(key, s.Agent, s.Gen, s.LoginTime, n, node)
}

// derivedN returns n if g is rotation n (n >= 1) of session s's GUID.
func derivedN(key []byte, s *ccgw.Session, g, node string) (uint32, bool) {
	return guid.DerivedAt(key, s.Agent, s.Gen, s.LoginTime, g, node)
}

func guidBits(g, node string) (uint64, uint64, bool) { return guid.Bits(g, node) }

func formatGUID(g0, g1 uint64, node string) string { return guid.Format(g0, g1, node) }
