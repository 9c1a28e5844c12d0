package guid

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ccgw/ccgw"
)

var shaped = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.AgentGateway1$`)

// TestNew: a sign-in's GUID has the vendor's shape, parses back into bits,
// and is not a rotation.
func TestNew(t *testing.T) {
	g := New("AgentGateway1")
	if !shaped.MatchString(g) {
		t.Fatalf("New = %q", g)
	}
	if g == New("AgentGateway1") {
		t.Fatal("two GUIDs alike")
	}
	g0, g1, ok := Bits(g, "AgentGateway1")
	if !ok || Format(g0, g1, "AgentGateway1") != g {
		t.Fatalf("Bits(%s) = %x %x %v", g, g0, g1, ok)
	}
	for _, bad := range []string{g[:36] + ".AgentGateway2", strings.ToUpper(g[:36]) + ".AgentGateway1", "", "x" + g} {
		if _, _, ok := Bits(bad, "AgentGateway1"); ok {
			t.Fatalf("Bits(%q) parsed", bad)
		}
	}
}

// TestDerive: Derived recognises a rotation whatever node suffix it carries,
// never the sign-in's own GUID, another sign-in's, or another key's.
func TestDerive(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	s := &ccgw.Session{Agent: 1001, Gen: 1772442000123456789, LoginTime: 1772442000123, GUID: New("AgentGateway1")}
	seen := map[string]bool{}
	for n := uint32(1); n <= 3; n++ {
		g := Derive(key, s.Agent, s.Gen, s.LoginTime, n, "AgentGateway1")
		if !shaped.MatchString(g) || seen[g] {
			t.Fatalf("rotation %d: %q", n, g)
		}
		seen[g] = true
		if m, ok := DerivedAt(key, s.Agent, s.Gen, s.LoginTime, g, "AgentGateway1"); !ok || m != n {
			t.Fatalf("DerivedAt(%s) = %d, %v; want %d", g, m, ok, n)
		}
		other := strings.TrimSuffix(g, "AgentGateway1") + "AgentGateway7"
		for _, g := range []string{g, other} {
			if m, ok := Derived(key, s.Agent, s.Gen, s.LoginTime, g); !ok || m != n {
				t.Fatalf("Derived(%s) = %d, %v; want %d", g, m, ok, n)
			}
		}
		if _, ok := Derived(key, s.Agent, s.Gen+1, s.LoginTime, g); ok {
			t.Fatal("a rotation recognised for another sign-in")
		}
		if _, ok := Derived([]byte("another key, 32 bytes long......"), s.Agent, s.Gen, s.LoginTime, g); ok {
			t.Fatal("a rotation recognised under another key")
		}
	}
	for _, g := range []string{s.GUID, "", "not-a-guid", Format(uint64(7)<<32, 0, "AgentGateway1")} {
		if _, ok := Derived(key, s.Agent, s.Gen, s.LoginTime, g); ok {
			t.Fatalf("Derived(%q) recognised it", g)
		}
	}
	if node, ok := Node(s.GUID); !ok || node != "AgentGateway1" {
		t.Fatalf("Node(%s) = %q, %v", s.GUID, node, ok)
	}
	if len(NewKey()) != KeyLen {
		t.Fatal("key length")
	}
}
