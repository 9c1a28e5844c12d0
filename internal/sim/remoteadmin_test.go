package sim

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// TestRemoteAdmin: a node that does not run the call centre carries the admin
// API's call, queue and rate operations to the one that does, so that they
// act on the one call centre from any node; with nobody serving it answers
// for itself, and with the serving node silent it finds nothing.
func TestRemoteAdmin(t *testing.T) {
	r := newTestRig(t)
	rel := &relay{to: r.eng}
	other := New(Config{Sessions: r.sm, Directory: r.eng.cfg.Directory, Clock: r.clock, Remote: rel})

	id, err := other.Inject(CallSpec{Skill: 1, Caller: "88880001", CallData: "order 7", AbandonAfter: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := r.eng.Call(id); !ok || st.Caller != "88880001" || st.CallData != "order 7" {
		t.Fatalf("the serving engine has %+v, %v; want the injected call", st, ok)
	}
	if st, ok := other.Call(id); !ok || st.CallID != id || st.State != "queued" {
		t.Fatalf("Call via the remote: %+v, %v", st, ok)
	}
	if _, ok := other.Call("nosuchcall"); ok {
		t.Fatal("Call via the remote found an unknown call")
	}
	if page, more := other.Calls(0, 10); len(page) != 1 || page[0].CallID != id || more {
		t.Fatalf("Calls via the remote: %+v, %v", page, more)
	}
	if q := other.Queue(1); q.Skill != 1 || q.Waiting != 1 {
		t.Fatalf("Queue(1) via the remote: %+v, want one waiting", q)
	}
	waiting := 0
	for _, q := range other.Queues() {
		waiting += q.Waiting
	}
	if waiting != 1 {
		t.Fatalf("Queues via the remote: %d waiting, want 1", waiting)
	}
	if _, err := other.Inject(CallSpec{Skill: 424242}); ccgw.CodeOf(err) != ccgw.RetBadParam {
		t.Fatalf("inject to an unknown skill via the remote: %v, want 000-002", err)
	}

	rate := Rate{PerHour: 60, TalkMin: 5 * time.Second, TalkMax: 9 * time.Second, AbandonAfter: 30 * time.Second}
	if err := other.SetRate(1, rate); err != nil {
		t.Fatal(err)
	}
	if got := r.eng.Rates()[1]; got != rate {
		t.Fatalf("the serving engine's rate %+v, want %+v", got, rate)
	}
	if got := other.Rates()[1]; got != rate {
		t.Fatalf("Rates via the remote: %+v, want %+v", got, rate)
	}
	if err := other.SetRate(1, Rate{PerHour: -1}); ccgw.CodeOf(err) != ccgw.RetBadParam {
		t.Fatalf("a negative rate via the remote: %v", err)
	}
	if err := other.SetRate(1, Rate{}); err != nil { // stopped: the test's clock stays put anyway
		t.Fatal(err)
	}

	if !other.Hangup(id) {
		t.Fatal("Hangup via the remote: not found")
	}
	if _, ok := r.eng.Call(id); ok {
		t.Fatal("the call outlived its hang-up on the serving engine")
	}
	if other.Hangup(id) {
		t.Fatal("a second Hangup via the remote found the call")
	}

	// A request as it is read from Redis, not as the admin API makes it: its
	// page is bounded all the same.
	for range maxRelayPage + 1 {
		if _, err := r.eng.Inject(CallSpec{Skill: 1}); err != nil {
			t.Fatal(err)
		}
	}
	var big response
	if err := json.Unmarshal(r.eng.Serve([]byte(`{"op":"calls","limit":2000000000}`)), &big); err != nil {
		t.Fatal(err)
	}
	if len(big.Statuses) != maxRelayPage || !big.More {
		t.Fatalf("a relayed page of 2e9 calls: %d and more %v, want %d and more", len(big.Statuses), big.More, maxRelayPage)
	}

	n := rel.n
	rel.to = nil // nobody serves: the engine's own, empty, call centre answers
	if page, _ := other.Calls(0, 10); len(page) != 0 || rel.n != n {
		t.Fatalf("Calls with nobody serving: %v (%d carried)", page, rel.n-n)
	}
	rel.to, rel.fail = r.eng, true
	keep, err := r.eng.Inject(CallSpec{Skill: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := other.Call(keep); ok {
		t.Fatal("Call with the serving node silent found a call")
	}
	if other.Hangup(keep) {
		t.Fatal("Hangup with the serving node silent reported the call hung up")
	}
	if page, _ := other.Calls(0, 10); page == nil || len(page) != 0 {
		t.Fatalf("Calls with the serving node silent: %#v, want empty", page)
	}
}
