package session

import (
	"strings"
	"testing"

	"github.com/ccgw/ccgw"
)

// TestDeriveGUIDExported: the exported derivation (for stores shared between
// nodes) is the Manager's, and DerivedN recognises a rotation whatever node
// suffix it carries, never the sign-in's own GUID, another sign-in's, or
// another key's.
func TestDeriveGUIDExported(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	s := &ccgw.Session{Agent: 1001, Gen: 1772442000123456789, LoginTime: 1772442000123, GUID: NewGUID("AgentGateway1")}
	for n := uint32(1); n <= 3; n++ {
		g := DeriveGUID(key, s.Agent, s.Gen, s.LoginTime, n, "AgentGateway1")
		if g != deriveGUID(key, s, n, "AgentGateway1") {
			t.Fatalf("rotation %d: %s, the Manager derives %s", n, g, deriveGUID(key, s, n, "AgentGateway1"))
		}
		other := strings.TrimSuffix(g, "AgentGateway1") + "AgentGateway7"
		for _, guid := range []string{g, other} {
			if m, ok := DerivedN(key, s.Agent, s.Gen, s.LoginTime, guid); !ok || m != n {
				t.Fatalf("DerivedN(%s) = %d, %v; want %d", guid, m, ok, n)
			}
		}
		if _, ok := DerivedN(key, s.Agent, s.Gen+1, s.LoginTime, g); ok {
			t.Fatal("a rotation recognised for another sign-in")
		}
		if _, ok := DerivedN([]byte("another key, 32 bytes long......"), s.Agent, s.Gen, s.LoginTime, g); ok {
			t.Fatal("a rotation recognised under another key")
		}
	}
	for _, g := range []string{s.GUID, "", "not-a-guid"} {
		if _, ok := DerivedN(key, s.Agent, s.Gen, s.LoginTime, g); ok {
			t.Fatalf("DerivedN(%q) recognised it", g)
		}
	}
	if node, ok := GUIDNode(s.GUID); !ok || node != "AgentGateway1" {
		t.Fatalf("GUIDNode(%s) = %q, %v", s.GUID, node, ok)
	}
}
