package bolt

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/ccgw/ccgw"
)

// TestCheckRecordsAgreeWithDecoders mutates encoded sessions and events (every
// truncation, then seeded random byte changes): checkSessionRecord and
// checkEventRecord accept exactly what decodeSession and eventDecoder decode,
// and name the same agent; on version 1 records they allocate nothing.
func TestCheckRecordsAgreeWithDecoders(t *testing.T) {
	sessions := [][]byte{encodeSession(new(tSessEvery(t))), encodeSession(&ccgw.Session{Agent: 101, Gen: 1})}
	old, _ := json.Marshal(ccgw.Session{Agent: 102, Gen: 3, GUID: "g"}) // an earlier ccgw's JSON record
	sessions = append(sessions, old)
	events := [][]byte{
		encodeEvent(&ccgw.Event{Type: "AgentState_Ready", WorkNo: "1001", GenTime: 1767225600000, Content: json.RawMessage(`{"a":1}`)}),
		encodeEvent(&ccgw.Event{Type: "AgentOther_InService", WorkNo: "1001"}),
	}
	rng := rand.New(rand.NewPCG(5, 6))
	mutants := func(v []byte) [][]byte {
		var out [][]byte
		for n := range len(v) {
			out = append(out, v[:n])
		}
		for range 2000 {
			m := bytes.Clone(v)
			for range 1 + rng.IntN(3) {
				m[rng.IntN(len(m))] = byte(rng.IntN(256))
			}
			out = append(out, m)
		}
		return append(out, v)
	}
	for _, v := range sessions {
		for _, m := range mutants(v) {
			var s ccgw.Session
			derr := decodeSession(m, &s)
			agent, cerr := checkSessionRecord(m)
			if (derr == nil) != (cerr == nil) || (derr == nil && ccgw.AgentID(agent) != s.Agent) { // a key check catches an agent past 32 bits
				t.Fatalf("session %x: decode %v (agent %d), check %v (agent %d)", m, derr, s.Agent, cerr, agent)
			}
		}
	}
	for _, v := range events {
		for _, m := range mutants(v) {
			var d eventDecoder
			var ev ccgw.Event
			derr := d.decode(m, &ev)
			if cerr := checkEventRecord(m); (derr == nil) != (cerr == nil) {
				t.Fatalf("event %x: decode %v, check %v", m, derr, cerr)
			}
		}
	}
	if a := testing.AllocsPerRun(100, func() { checkSessionRecord(sessions[0]); checkEventRecord(events[0]) }); a != 0 {
		t.Fatalf("checking records allocates %v times", a)
	}
}
