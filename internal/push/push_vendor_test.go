package push

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/push/pushtest"
)

// Tests of the vendor's push-failure rules (RetryVendor, the default), of the
// one attempt an ended session's last events get, of the older pushUrl format
// and of the trust check. Time is the fake clock's; the real-time waits are
// pWaitFor's, for an exchange on loopback.

func (s *pSource) signOuts() []pSignOut {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.signedOut)
}

// pAwaitInterval waits for the retry timer set after failure n, checks that it
// does not fire before interval, fires it, and waits for the attempt it starts.
func pAwaitInterval(tb testing.TB, fc interface {
	Pending() int
	Advance(time.Duration)
}, tries func() int, n int, interval time.Duration) {
	tb.Helper()
	pushtest.WaitFor(tb, "the retry timer", func() bool { return fc.Pending() == 1 })
	before := tries()
	fc.Advance(interval - time.Nanosecond)
	if fc.Pending() != 1 || tries() != before {
		tb.Fatalf("retry after failure %d came before %v", n, interval)
	}
	fc.Advance(time.Nanosecond)
	pushtest.WaitFor(tb, "the retry", func() bool { return tries() > before })
}

// TestPushVendorRetryAndSignOut: a receiver that keeps failing gets the same
// events, oldest first, every RetryInterval; events made meanwhile wait and
// join them; when the failures add up to FailTotal the agent is signed out
// once, with its sign-in's Gen, and no retry is left.
func TestPushVendorRetryAndSignOut(t *testing.T) {
	const interval, total = 10 * time.Second, 60 * time.Second
	rcv := pushtest.New(t, pushtest.Always(pushtest.Fail500), nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{RetryInterval: interval, FailTotal: total})
	q := src.agent(1001, rcv.URL(), "tok")

	pEmit(p, 1001, q, 2, fc.Now())
	tries := rcv.Count
	pushtest.WaitFor(t, "the first push answered", func() bool { return rcv.Answered(1) })
	for n := 1; n <= int(total/interval); n++ {
		if n == 2 {
			pEmit(p, 1001, q, 1, fc.Now()) // made while failing: waits, then joins
		}
		if got := src.signOuts(); len(got) != 0 {
			t.Fatalf("signed out after %d failures (%v of failing), want only at %v", n, time.Duration(n-1)*interval, total)
		}
		pAwaitInterval(t, fc, tries, n, interval)
		pushtest.WaitFor(t, "the retry answered", func() bool { return rcv.Answered(n + 1) })
	}
	pushtest.WaitFor(t, "the sign-out", func() bool { return len(src.signOuts()) == 1 })
	if got := src.signOuts()[0]; got != (pSignOut{1001, 10010}) {
		t.Fatalf("PushFailed(%d, %d), want agent 1001, gen 10010", got.id, got.gen)
	}
	pushes := rcv.Of("1001")
	if len(pushes) != int(total/interval)+1 {
		t.Fatalf("%d attempts, want %d (one every %v until %v)", len(pushes), total/interval+1, interval, total)
	}
	for i, ps := range pushes {
		want := pRange(1, 2)
		if i >= 2 {
			want = pRange(1, 3)
		}
		if !slices.Equal(ps.Seqs(), want) {
			t.Errorf("attempt %d carried %v, want %v", i+1, ps.Seqs(), want)
		}
	}
	if d := src.drops(); len(d) != 0 {
		t.Errorf("%d events dropped by the pusher; the session's end deals with them", len(d))
	}
	if n := len(src.signOuts()); n != 1 {
		t.Errorf("%d sign-outs, want 1", n)
	}
}

// TestPushVendorSuccessResets: failures that stop short of FailTotal, then a
// success, start the count again: the next run of failures may last FailTotal.
func TestPushVendorSuccessResets(t *testing.T) {
	const interval, total = 10 * time.Second, 30 * time.Second
	failing := true
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	rcv := pushtest.New(t, func(int, pushtest.Push) pushtest.Answer {
		<-mu
		defer func() { mu <- struct{}{} }()
		if failing {
			return pushtest.Fail500
		}
		return pushtest.OK
	}, nil)
	set := func(v bool) { <-mu; failing = v; mu <- struct{}{} }
	src := pNewSource()
	p, fc := pPusher(t, src, Config{RetryInterval: interval, FailTotal: total})
	q := src.agent(1001, rcv.URL(), "tok")

	pEmit(p, 1001, q, 1, fc.Now())
	pushtest.WaitFor(t, "the first push answered", func() bool { return rcv.Answered(1) })
	pAwaitInterval(t, fc, rcv.Count, 1, interval) // 10s failing
	pushtest.WaitFor(t, "answered", func() bool { return rcv.Answered(2) })
	pAwaitInterval(t, fc, rcv.Count, 2, interval) // 20s failing
	pushtest.WaitFor(t, "answered", func() bool { return rcv.Answered(3) })
	set(false)
	pAwaitInterval(t, fc, rcv.Count, 3, interval) // accepted at 30s
	pushtest.WaitFor(t, "delivered", func() bool { return src.deliveredTo(1001) == 1 })

	set(true)
	pEmit(p, 1001, q, 1, fc.Now())
	pushtest.WaitFor(t, "answered", func() bool { return rcv.Answered(5) })
	for n := 1; n < int(total/interval); n++ {
		pAwaitInterval(t, fc, rcv.Count, n, interval)
		pushtest.WaitFor(t, "answered", func() bool { return rcv.Answered(5 + n) })
		if len(src.signOuts()) != 0 {
			t.Fatalf("signed out %v into the second run of failures: the success did not reset the count", time.Duration(n)*interval)
		}
	}
	pAwaitInterval(t, fc, rcv.Count, 3, interval)
	pushtest.WaitFor(t, "the sign-out", func() bool { return len(src.signOuts()) == 1 })
}

// TestPushEndedAttemptedOnce: an ended session's last events are attempted
// once; when that fails they are all dropped as push_failed, with no retry.
func TestPushEndedAttemptedOnce(t *testing.T) {
	rcv := pushtest.New(t, pushtest.Always(pushtest.Fail500), nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{MaxBatch: 2})
	q := src.agent(1001, rcv.URL(), "tok")
	src.update(1001, func(t *Target) { t.Ended = true })

	pEmit(p, 1001, q, 3, fc.Now())
	pushtest.WaitFor(t, "three drops", func() bool { return len(src.drops()) == 3 })
	pushtest.WaitFor(t, "the pusher to go idle", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.agents) == 0
	})
	if n := rcv.Count(); n != 1 {
		t.Fatalf("%d attempts, want 1", n)
	}
	for _, d := range src.drops() {
		if d.reason != ccgw.DropPushFailed {
			t.Errorf("drop reason %q, want push_failed", d.reason)
		}
	}
	if fc.Pending() != 0 || src.deliveredTo(1001) != 3 || len(src.signOuts()) != 0 {
		t.Fatalf("%d timers, delivered to %d, %d sign-outs; want 0, 3, 0", fc.Pending(), src.deliveredTo(1001), len(src.signOuts()))
	}
}

// TestPushLegacyFormat: a session signed in with pushUrl gets each event alone,
// in a poll answer's envelope.
func TestPushLegacyFormat(t *testing.T) {
	rcv := pushtest.New(t, pushtest.Always(pushtest.Answer{Status: 200, Body: "", OK: true}), nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{})
	q := src.agent(1001, rcv.URL(), "")
	src.update(1001, func(t *Target) { t.Legacy = true })

	pEmit(p, 1001, q, 2, fc.Now())
	pushtest.WaitFor(t, "both delivered", func() bool { return src.deliveredTo(1001) == 2 })
	all := rcv.All()
	if len(all) != 2 {
		t.Fatalf("%d pushes, want one per event", len(all))
	}
	for i, ps := range all {
		var body struct {
			Message *string         `json:"message"`
			Retcode string          `json:"retcode"`
			Event   json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal(ps.Raw, &body); err != nil || body.Message == nil || *body.Message != "" || body.Retcode != "0" {
			t.Fatalf("push %d body %s, want {\"message\":\"\",\"retcode\":\"0\",\"event\":…}", i+1, ps.Raw)
		}
		var ev map[string]json.RawMessage
		if err := json.Unmarshal(body.Event, &ev); err != nil || string(ev["workNo"]) != `"1001"` || string(ev["eventType"]) != `"AgentState_Ready"` {
			t.Fatalf("push %d event %s", i+1, body.Event)
		}
		if _, has := ev["eventGenTime"]; has || len(ev) != 3 {
			t.Fatalf("push %d event %s, want exactly eventType, workNo, content (older receivers refuse more)", i+1, body.Event)
		}
		if got := ps.Header.Get(ccgw.SeqHeader); got != []string{"1", "2"}[i] {
			t.Errorf("push %d %s %q", i+1, ccgw.SeqHeader, got)
		}
	}
}

// TestPushUntrustedNeverSent: events for a callback the policy refuses (not on
// the trustlist) are dropped as push_failed and nothing is sent there.
func TestPushUntrustedNeverSent(t *testing.T) {
	rcv := pushtest.New(t, pushtest.Always(pushtest.OK), nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{Policy: &CallbackPolicy{Trust: ParseTrustlist("https://crm.example.com/cb"), AllowPrivate: true}})
	q := src.agent(1001, rcv.URL(), "tok")
	pEmit(p, 1001, q, 2, fc.Now())
	pushtest.WaitFor(t, "two drops", func() bool { return len(src.drops()) == 2 })
	if n := rcv.Count(); n != 0 {
		t.Fatalf("%d pushes reached an untrusted receiver", n)
	}
	if st := p.Stats(); st.Failures != 0 {
		t.Errorf("Stats %+v: a refusal is not a failed attempt", st)
	}
}
