package mem

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ccgw/ccgw"
)

// TestRecordsKeptCompact: a session's record written as internal/session
// writes it (its JSON) is kept in the binary form, a third of its size, and
// read back byte for byte as written, so that the compare-and-set of the
// next change (Expect) holds; a record that would not come back the same
// (here: its keys in another order) is kept as written.
func TestRecordsKeptCompact(t *testing.T) {
	ctx := context.Background()
	st := NewShared()
	sess := ccgw.Session{Agent: 1001, Gen: 7, GUID: "0908ca87-f72c-7917-d517-4068f185a41f.AgentGateway0", GUIDIssued: 1700000000000,
		LoginTime: 1700000000000, Op: "login", MediaType: "TTF", Phone: "70001", IP: "127.0.0.1", State: ccgw.StateIdle,
		StateSince: 1700000000000, Skills: []int{1, 2}, AutoEnterIdle: true, ReleasePhone: true, TalkRight: true,
		ServiceToken: "<&>"} // escaped in JSON: the round trip must escape it again
	b, err := json.Marshal(&sess)
	if err != nil {
		t.Fatal(err)
	}
	raw := string(b)
	if _, err := st.SignIn(ctx, ccgw.SharedSignIn{ID: 1001, Record: raw, Deadline: 1, KeepFor: 1, QueueMax: 10}); err != nil {
		t.Fatal(err)
	}
	kept := st.recs[1001].data
	if !ccgw.IsSessionBinary([]byte(kept)) || len(kept) > len(raw)/2 {
		t.Fatalf("kept %d bytes (binary %v) of a %d-byte record, want the binary form", len(kept), ccgw.IsSessionBinary([]byte(kept)), len(raw))
	}
	if got, _, _ := st.Read(ctx, 1001); got != raw {
		t.Fatalf("read back\n%s\nwant\n%s", got, raw)
	}
	sess.State = ccgw.StateBusy
	b2, _ := json.Marshal(&sess)
	if err := st.Update(ctx, ccgw.SharedUpdate{ID: 1001, Expect: raw, Record: string(b2), QueueMax: 10}); err != nil {
		t.Fatalf("Update with the record read as Expect: %v", err)
	}

	odd := `{"gen":9,"agent":1002,"state":4}` // not in json.Marshal's order
	if _, err := st.SignIn(ctx, ccgw.SharedSignIn{ID: 1002, Record: odd, Deadline: 1, KeepFor: 1, QueueMax: 10}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := st.Read(ctx, 1002); got != odd {
		t.Fatalf("read back %s, want %s as written", got, odd)
	}
	if r := st.recs[1002]; r.gen != 9 {
		t.Fatalf("gen %d, want 9", r.gen)
	}
}
