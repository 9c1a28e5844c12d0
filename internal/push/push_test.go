package push

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/event"
	"github.com/ccgw/ccgw/internal/push/pushtest"
)

// Tests of the Pusher against a working fake Source (pSource, real Queues) and a
// real HTTP receiver on loopback (pReceiver). Retries run on a clock.Virtual that
// the tests advance; the only real-time waits are pWaitFor's polls for an HTTP
// request to arrive or be answered, each bounded by a deadline.

var pStart = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// pSource is a working Source: one real Queue per agent, with its target's URL,
// token and GUID settable, recording what the Pusher reports done and what the
// queues drop.
type pSource struct {
	mu        sync.Mutex // guards all below
	targets   map[ccgw.AgentID]Target
	delivered map[ccgw.AgentID]uint64 // highest Seq reported through Delivered
	badGen    int                     // Delivered calls with a Gen not the target's
	dropped   []pDropped
	signedOut []pSignOut // PushFailed calls
}

type pSignOut struct {
	id  ccgw.AgentID
	gen uint64
}

type pDropped struct {
	ev     ccgw.Event
	reason ccgw.DropReason
}

var _ Source = (*pSource)(nil)

func pNewSource() *pSource {
	return &pSource{targets: make(map[ccgw.AgentID]Target), delivered: make(map[ccgw.AgentID]uint64)}
}

func (s *pSource) PushTarget(id ccgw.AgentID) (Target, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.targets[id]
	return t, ok
}

func (s *pSource) Delivered(id ccgw.AgentID, gen, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.targets[id]; !ok || t.Gen != gen {
		s.badGen++
	}
	if seq > s.delivered[id] {
		s.delivered[id] = seq
	}
}

func (s *pSource) drop(ev ccgw.Event, reason ccgw.DropReason) {
	s.mu.Lock()
	s.dropped = append(s.dropped, pDropped{ev, reason})
	s.mu.Unlock()
}

// agent registers agent id pushing to url with token and returns its queue.
func (s *pSource) agent(id ccgw.AgentID, url, token string) *event.Queue {
	q := event.NewQueue(id.String(), 10000, s.drop)
	s.mu.Lock()
	s.targets[id] = Target{Agent: id, Gen: uint64(id) * 10, URL: url, Token: token, GUID: "guid-" + id.String() + "-AgentGateway0", Queue: q}
	s.mu.Unlock()
	return q
}

func (s *pSource) update(id ccgw.AgentID, fn func(t *Target)) {
	s.mu.Lock()
	t := s.targets[id]
	fn(&t)
	s.targets[id] = t
	s.mu.Unlock()
}

func (s *pSource) deliveredTo(id ccgw.AgentID) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered[id]
}

func (s *pSource) drops() []pDropped {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.dropped)
}

// pPusher returns a started Pusher on src with a fake clock (unless cfg has a
// Clock) and a fixed jitter seed; it is closed at cleanup.
func pPusher(tb testing.TB, src *pSource, cfg Config) (*Pusher, *clock.Virtual) {
	tb.Helper()
	fc := clock.NewVirtual(pStart)
	cfg.Source = src
	if cfg.Clock == nil {
		cfg.Clock = fc
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Policy == nil {
		cfg.Policy = &CallbackPolicy{AllowPrivate: true} // receivers on loopback
	}
	p := New(cfg)
	p.Start()
	tb.Cleanup(p.Close)
	return p, fc
}

// pEmit adds n events to q, each with content {"i":<its Seq>}, then notifies p
// once. It returns the Seq of the last.
func pEmit(p *Pusher, id ccgw.AgentID, q *event.Queue, n int, now time.Time) uint64 {
	var last uint64
	for i := 0; i < n; i++ {
		ev := q.Add(ccgw.EvReady, ccgw.Content(map[string]int{"i": int(q.LastSeq()) + 1}), now)
		last = ev.Seq
	}
	p.Notify(id)
	return last
}

// pStats waits until p counts delivered events (it counts them just after
// telling the Source) and returns its Stats.
func pStats(tb testing.TB, p *Pusher, delivered uint64) Stats {
	tb.Helper()
	pushtest.WaitFor(tb, fmt.Sprintf("Stats().Delivered = %d", delivered), func() bool { return p.Stats().Delivered == delivered })
	return p.Stats()
}

func pRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// pCheckDelivery checks one agent's pushes: the accepted ones carry Seq 1..n
// exactly once and in order; all of them, with duplicates removed, too (Seq
// strictly increasing); each push's events are consecutive; and an event is
// pushed again only after a push carrying it failed.
func pCheckDelivery(tb testing.TB, pushes []pushtest.Push, n uint64) {
	tb.Helper()
	var accepted, dedup []uint64
	failedWith := map[uint64]bool{} // Seq carried by a failed push so far
	seen := map[uint64]bool{}
	for i, p := range pushes {
		s := p.Seqs()
		if len(s) == 0 {
			tb.Errorf("push %d has an empty eventList", i+1)
		}
		for j := 1; j < len(s); j++ {
			if s[j] != s[j-1]+1 {
				tb.Errorf("push %d carries Seq %v: not consecutive", i+1, s)
			}
		}
		for _, x := range s {
			if seen[x] && !failedWith[x] {
				tb.Errorf("push %d repeats Seq %d, which no failed push carried", i+1, x)
			}
			if !seen[x] {
				seen[x] = true
				dedup = append(dedup, x)
			}
			if !p.OK {
				failedWith[x] = true
			} else {
				delete(failedWith, x) // accepted: any later copy is a real duplicate
			}
		}
		if p.OK {
			accepted = append(accepted, s...)
		}
	}
	if want := pRange(1, n); !slices.Equal(accepted, want) {
		tb.Errorf("accepted pushes carried Seq %v, want %v", accepted, want)
	}
	if want := pRange(1, n); !slices.Equal(dedup, want) {
		tb.Errorf("pushes without duplicates carried Seq %v, want %v (strictly increasing)", dedup, want)
	}
}

func TestBackoff(t *testing.T) {
	almost1 := math.Nextafter(1, 0)
	const base, max = 100 * time.Millisecond, time.Second
	for _, tc := range []struct {
		attempt int
		r       float64
		want    time.Duration // exact, or the lower bound when r ≈ 1
	}{
		// r = 0: half the exponential step.
		{1, 0, 50 * time.Millisecond},
		{2, 0, 100 * time.Millisecond},
		{3, 0, 200 * time.Millisecond},
		{4, 0, 400 * time.Millisecond},
		{5, 0, 500 * time.Millisecond},  // step 1.6s capped at 1s
		{6, 0, 500 * time.Millisecond},  // stays capped
		{64, 0, 500 * time.Millisecond}, // no overflow
		{1000, 0, 500 * time.Millisecond},
		// r = 0.5: three quarters of the step.
		{1, 0.5, 75 * time.Millisecond},
		{3, 0.5, 300 * time.Millisecond},
		{9, 0.5, 750 * time.Millisecond},
		// r ≈ 1: just under the full step (checked below within 1ns of it).
		{1, almost1, 100 * time.Millisecond},
		{2, almost1, 200 * time.Millisecond},
		{4, almost1, 800 * time.Millisecond},
		{5, almost1, time.Second},
		{64, almost1, time.Second},
	} {
		t.Run(fmt.Sprintf("attempt=%d/r=%g", tc.attempt, tc.r), func(t *testing.T) {
			got := Backoff(tc.attempt, base, max, tc.r)
			if tc.r == almost1 {
				if got > tc.want || got < tc.want-time.Nanosecond {
					t.Fatalf("Backoff(%d, r≈1) = %v, want %v (within 1ns below)", tc.attempt, got, tc.want)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("Backoff(%d, r=%g) = %v, want %v", tc.attempt, tc.r, got, tc.want)
			}
		})
	}
}

// TestBackoffBounds checks, over the defaults and many r, that the delay lies in
// the upper half of min(max, base·2^(attempt-1)) and never decreases with the
// attempt for a given r.
func TestBackoffBounds(t *testing.T) {
	const base, max = 500 * time.Millisecond, 30 * time.Second
	for _, r := range []float64{0, 0.001, 0.25, 0.5, 0.75, 0.999, math.Nextafter(1, 0)} {
		prev := time.Duration(0)
		for attempt := 1; attempt <= 40; attempt++ {
			step := base << (attempt - 1)
			if attempt > 10 || step > max {
				step = max
			}
			got := Backoff(attempt, base, max, r)
			if got < step/2 || got > step {
				t.Fatalf("Backoff(%d, r=%g) = %v, want within [%v, %v]", attempt, r, got, step/2, step)
			}
			if got < prev {
				t.Fatalf("Backoff(%d, r=%g) = %v < %v for attempt %d", attempt, r, got, prev, attempt-1)
			}
			prev = got
		}
	}
}

// pHMAC is HMAC-SHA256(secret, t "." body) in hex, computed here without Sign.
func pHMAC(secret []byte, t string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	io.WriteString(mac, t+".")
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func TestSign(t *testing.T) {
	secret := []byte("k3y-s3cret")
	body := []byte(`{"workNo":"1001","eventList":[]}`)
	const ms = int64(1_700_000_000_000)
	got := Sign(secret, body, ms)
	// Computed independently:
	//   printf '%s' '1700000000000.{"workNo":"1001","eventList":[]}' | openssl dgst -sha256 -hmac 'k3y-s3cret'
	const want = "t=1700000000000,v1=503194c451afee4f4633b8ad04a8a9cbaf2ab645e80f51334e4ef8cabc6bccd7"
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	if mac := pHMAC(secret, "1700000000000", body); got != "t=1700000000000,v1="+mac {
		t.Fatalf("Sign = %q, crypto/hmac gives v1=%s", got, mac)
	}
	if Sign([]byte("other"), body, ms) == got || Sign(secret, []byte(`{}`), ms) == got || Sign(secret, body, ms+1) == got {
		t.Fatal("Sign does not depend on secret, body and time")
	}
}

// pVerify checks a ccgw.SignatureHeader value against body as a receiver would and
// returns its time.
func pVerify(secret []byte, header string, body []byte) (int64, error) {
	ts, mac, ok := strings.Cut(header, ",")
	if !ok || !strings.HasPrefix(ts, "t=") || !strings.HasPrefix(mac, "v1=") {
		return 0, fmt.Errorf("malformed signature %q", header)
	}
	ms, err := strconv.ParseInt(ts[2:], 10, 64)
	if err != nil {
		return 0, err
	}
	want := pHMAC(secret, ts[2:], body)
	if !hmac.Equal([]byte(mac[3:]), []byte(want)) {
		return 0, fmt.Errorf("signature %q does not verify (want v1=%s)", header, want)
	}
	return ms, nil
}

func TestPushSignedPushesVerify(t *testing.T) {
	secret := []byte("push-secret")
	var mu sync.Mutex
	var bad []error
	var stamps []int64
	rcv := pushtest.New(t, func(_ int, p pushtest.Push) pushtest.Answer {
		ms, err := pVerify(secret, p.Header.Get(ccgw.SignatureHeader), p.Raw)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			bad = append(bad, err)
			return pushtest.Answer{Status: 401, Body: `{"retcode":"000-003"}`}
		}
		stamps = append(stamps, ms)
		return pushtest.OK
	}, nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{Secret: secret})
	q := src.agent(1001, rcv.URL(), "tok")
	for round := 0; round < 3; round++ {
		fc.Advance(time.Second)
		pEmit(p, 1001, q, 2, fc.Now())
		want := uint64(2 * (round + 1))
		pushtest.WaitFor(t, "the pushes", func() bool { return src.deliveredTo(1001) == want })
		mu.Lock()
		last := stamps[len(stamps)-1]
		mu.Unlock()
		if last != ccgw.Millis(fc.Now()) {
			t.Errorf("round %d: signature time %d, want the clock's %d", round, last, ccgw.Millis(fc.Now()))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("signatures that do not verify: %v", bad)
	}
	if st := pStats(t, p, 6); st.Failures != 0 {
		t.Fatalf("Stats = %+v, want 6 delivered, no failure", st)
	}

	// Without a secret no signature header is sent.
	rcv2 := pushtest.New(t, pushtest.Always(pushtest.OK), nil)
	src2 := pNewSource()
	p2, fc2 := pPusher(t, src2, Config{})
	q2 := src2.agent(1002, rcv2.URL(), "tok")
	pEmit(p2, 1002, q2, 1, fc2.Now())
	pushtest.WaitFor(t, "the push", func() bool { return src2.deliveredTo(1002) == 1 })
	if h := rcv2.All()[0].Header.Values(ccgw.SignatureHeader); len(h) != 0 {
		t.Fatalf("unsigned pusher sent %s: %q", ccgw.SignatureHeader, h)
	}
}

// TestPushRequest checks one push on the wire: method, path, headers and body
// (interfaces.md §9), and that a changed token or GUID is used by the next push.
func TestPushRequest(t *testing.T) {
	rcv := pushtest.New(t, pushtest.Always(pushtest.OK), nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{})
	q := src.agent(1001, rcv.URL(), "token1")
	q.Add(ccgw.EvInService, nil, fc.Now())
	q.Add(ccgw.EvSetNotReadySuccess, ccgw.Content(map[string]string{"reason": "0"}), fc.Now())
	p.Notify(1001)
	pushtest.WaitFor(t, "the first push", func() bool { return src.deliveredTo(1001) == 2 })

	got := rcv.All()
	if len(got) != 1 {
		t.Fatalf("%d pushes, want 1", len(got))
	}
	first := got[0]
	if first.Method != http.MethodPost || first.Path != pushtest.Path {
		t.Errorf("request %s %s, want POST %s", first.Method, first.Path, pushtest.Path)
	}
	if ct := first.Header.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if g := first.Header.Get("Guid"); g != "guid-1001-AgentGateway0" {
		t.Errorf("Guid %q", g)
	}
	if tok := first.Header.Get("service_token"); tok != "token1" {
		t.Errorf("service_token %q, want token1", tok)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(first.Raw, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw) != 2 || string(raw["workNo"]) != `"1001"` || raw["eventList"] == nil {
		t.Errorf("body %s, want exactly workNo \"1001\" and eventList", first.Raw)
	}
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(raw["eventList"], &list); err != nil {
		t.Fatal(err)
	}
	wantMs := strconv.FormatInt(ccgw.Millis(pStart), 10)
	want := []map[string]string{
		{"eventType": `"AgentOther_InService"`, "workNo": `"1001"`, "content": `null`, "eventGenTime": wantMs},
		{"eventType": `"AgentState_SetNotReady_Success"`, "workNo": `"1001"`, "content": `{"reason":"0"}`, "eventGenTime": wantMs},
	}
	if len(list) != len(want) {
		t.Fatalf("eventList %s, want %d events", raw["eventList"], len(want))
	}
	if h := first.Header.Get(ccgw.SeqHeader); h != "1" {
		t.Errorf("%s %q, want 1 (the first event's Seq)", ccgw.SeqHeader, h)
	}
	for i := range want {
		if len(list[i]) != len(want[i]) {
			t.Errorf("event %d has fields %v, want exactly eventType, eventGenTime, workNo, content", i, slices.Sorted(maps.Keys(list[i])))
		}
		for k, v := range want[i] {
			if string(list[i][k]) != v {
				t.Errorf("event %d %s = %s, want %s", i, k, list[i][k], v)
			}
		}
	}

	// The next push carries the target as it is then: new token, new GUID; and
	// no service_token header at all when there is no token.
	src.update(1001, func(t *Target) { t.Token, t.GUID = "token2", "guid-rotated" })
	pEmit(p, 1001, q, 1, fc.Now())
	pushtest.WaitFor(t, "the second push", func() bool { return src.deliveredTo(1001) == 3 })
	second := rcv.All()[1]
	if h := second.Header.Get(ccgw.SeqHeader); h != "3" {
		t.Errorf("second push: %s %q, want 3", ccgw.SeqHeader, h)
	}
	if tok, g := second.Header.Get("service_token"), second.Header.Get("Guid"); tok != "token2" || g != "guid-rotated" {
		t.Errorf("second push: service_token %q Guid %q, want token2 guid-rotated", tok, g)
	}
	src.update(1001, func(t *Target) { t.Token = "" })
	pEmit(p, 1001, q, 1, fc.Now())
	pushtest.WaitFor(t, "the third push", func() bool { return src.deliveredTo(1001) == 4 })
	if v := rcv.All()[2].Header.Values("service_token"); len(v) != 0 {
		t.Errorf("push without a token sent service_token %q", v)
	}
}

// TestPushAcceptance: a push is accepted on HTTP 2xx whose body, if JSON with a
// retcode, says "0"; anything else fails (with MaxAttempts 1: dropped at once).
func TestPushAcceptance(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		ok     bool
	}{
		{"200 retcode 0", 200, `{"message":"success","retcode":"0"}`, true},
		{"200 numeric retcode 0", 200, `{"retcode":0}`, true},
		{"202 retcode 0", 202, `{"retcode":"0"}`, true},
		{"204 empty", 204, ``, true},
		{"200 not JSON", 200, `OK`, true},
		{"200 JSON without retcode", 200, `{"message":"success"}`, true},
		{"200 JSON array", 200, `[1,2]`, true},
		{"200 retcode 100-007", 200, `{"message":"","retcode":"100-007"}`, false},
		{"200 retcode 000-003", 200, `{"retcode":"000-003"}`, false},
		{"200 numeric retcode 1", 200, `{"retcode":1}`, false},
		{"200 empty retcode", 200, `{"retcode":""}`, false},
		{"500 retcode 0", 500, `{"retcode":"0"}`, false},
		{"404", 404, `not found`, false},
		{"401", 401, ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := pushtest.New(t, pushtest.Always(pushtest.Answer{Status: tc.status, Body: tc.body, OK: tc.ok}), nil)
			src := pNewSource()
			p, fc := pPusher(t, src, Config{Retry: RetryExponential, MaxAttempts: 1})
			q := src.agent(1001, rcv.URL(), "tok")
			pEmit(p, 1001, q, 3, fc.Now())
			pushtest.WaitFor(t, "the push to be done with", func() bool { return src.deliveredTo(1001) == 3 })
			want := uint64(0)
			if tc.ok {
				want = 3
			}
			st := pStats(t, p, want)
			drops := src.drops()
			if tc.ok {
				if st.Pushes == 0 || st.Delivered != 3 || st.Failures != 0 || len(drops) != 0 {
					t.Fatalf("accepted answer: Stats %+v, %d drops", st, len(drops))
				}
				return
			}
			if st.Pushes != 0 || st.Delivered != 0 || st.Failures == 0 || len(drops) != 3 {
				t.Fatalf("refused answer: Stats %+v, %d drops, want 3 dropped", st, len(drops))
			}
			for _, d := range drops {
				if d.reason != ccgw.DropPushFailed {
					t.Fatalf("dropped with %q, want %q", d.reason, ccgw.DropPushFailed)
				}
			}
		})
	}
}

// pAwaitRetry waits until the failed push's retry timer is set, then checks it
// does not fire before the shortest delay Backoff allows for attempt and fires
// by the longest; tries counts the attempts made. The clock goes exactly to the
// longest delay: the next retry's timer, set at least half a step later, cannot
// fall due within the same Advance.
func pAwaitRetry(tb testing.TB, fc *clock.Virtual, tries func() int, attempt int, base, max time.Duration) {
	tb.Helper()
	pushtest.WaitFor(tb, fmt.Sprintf("retry timer after failure %d", attempt), func() bool { return fc.Pending() == 1 })
	lo, hi := Backoff(attempt, base, max, 0), Backoff(attempt, base, max, math.Nextafter(1, 0))
	n := tries()
	fc.Advance(lo - time.Nanosecond)
	if fc.Pending() != 1 {
		tb.Fatalf("retry %d fired before %v", attempt, lo)
	}
	fc.Advance(hi - lo + time.Nanosecond)
	// Fired by hi: the retry arrives with no further Advance. (Pending cannot tell:
	// the retry may already have failed and set the next timer.)
	pushtest.WaitFor(tb, fmt.Sprintf("retry %d by %v", attempt, hi), func() bool { return tries() > n })
}

// TestPushRetriesUntilAccepted: a receiver that fails its first deliveries, with
// errors and with a retcode, gets every event in order; events queued meanwhile
// join the retried batch; retries wait Backoff on the clock.
func TestPushRetriesUntilAccepted(t *testing.T) {
	const base, max = 100 * time.Millisecond, 2 * time.Second
	script := []pushtest.Answer{pushtest.Fail500, pushtest.Fail500, pushtest.FailRet, pushtest.Fail503JS, pushtest.FailRet}
	rcv := pushtest.New(t, func(n int, _ pushtest.Push) pushtest.Answer {
		if n <= len(script) {
			return script[n-1]
		}
		return pushtest.OK
	}, nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{Retry: RetryExponential, BaseBackoff: base, MaxBackoff: max, MaxAttempts: 10})
	q := src.agent(1001, rcv.URL(), "tok")

	pEmit(p, 1001, q, 3, fc.Now())
	for attempt := 1; attempt <= len(script); attempt++ {
		pushtest.WaitFor(t, "a failed push answered", func() bool { return rcv.Answered(attempt) })
		if attempt == 2 {
			pEmit(p, 1001, q, 2, fc.Now()) // queued while waiting to retry
		}
		pAwaitRetry(t, fc, rcv.Count, attempt, base, max)
	}
	pushtest.WaitFor(t, "the accepted push", func() bool { return src.deliveredTo(1001) == 5 })
	pEmit(p, 1001, q, 2, fc.Now())
	pushtest.WaitFor(t, "the later push", func() bool { return src.deliveredTo(1001) == 7 })

	pushes := rcv.Of("1001")
	pCheckDelivery(t, pushes, 7)
	if len(pushes) != len(script)+2 {
		t.Errorf("%d pushes, want %d failed + 2", len(pushes), len(script))
	}
	if s := pushes[len(script)].Seqs(); !slices.Equal(s, pRange(1, 5)) {
		t.Errorf("the accepted retry carried %v, want 1..5", s)
	}
	if st := pStats(t, p, 7); st != (Stats{Pushes: 2, Delivered: 7, Failures: uint64(len(script))}) {
		t.Errorf("Stats = %+v", st)
	}
	if d := src.drops(); len(d) != 0 {
		t.Errorf("%d events dropped", len(d))
	}
	if fc.Pending() != 0 {
		t.Errorf("%d timers left", fc.Pending())
	}
}

// pDeadAddr returns a loopback address nothing listens on: a closed listener's.
func pDeadAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestPushDropsAfterMaxAttempts: with the receiver down (connection refused),
// the head batch is dropped after MaxAttempts as push_failed, each event counted
// once; when the receiver is back on the same address later events arrive.
func TestPushDropsAfterMaxAttempts(t *testing.T) {
	const attempts = 4
	addr := pDeadAddr(t)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{Retry: RetryExponential, MaxAttempts: attempts, BaseBackoff: time.Second, MaxBackoff: 4 * time.Second})
	q := src.agent(1001, "http://"+addr+pushtest.Path, "tok")

	pEmit(p, 1001, q, 5, fc.Now())
	failures := func() int { return int(p.Stats().Failures) }
	for i := 1; i < attempts; i++ {
		pAwaitRetry(t, fc, failures, i, time.Second, 4*time.Second)
	}
	pushtest.WaitFor(t, "the drop", func() bool { return len(src.drops()) >= 5 })
	pushtest.WaitFor(t, "the pusher to go idle", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.agents) == 0
	})
	drops := src.drops()
	if len(drops) != 5 {
		t.Fatalf("%d drops, want 5", len(drops))
	}
	for i, d := range drops {
		if d.reason != ccgw.DropPushFailed || d.ev.Seq != uint64(i+1) {
			t.Errorf("drop %d: Seq %d reason %q, want Seq %d push_failed", i, d.ev.Seq, d.reason, i+1)
		}
	}
	if st := p.Stats(); st != (Stats{Failures: attempts}) {
		t.Errorf("Stats = %+v, want %d failures only", st, attempts)
	}
	if q.Len() != 0 || src.deliveredTo(1001) != 5 || fc.Pending() != 0 {
		t.Errorf("after the drop: %d queued, delivered up to %d, %d timers; want 0, 5, 0", q.Len(), src.deliveredTo(1001), fc.Pending())
	}

	// The receiver comes back on the same address.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("relisten on %s: %v", addr, err)
	}
	rcv := pushtest.New(t, nil, ln)

	pEmit(p, 1001, q, 3, fc.Now())
	pushtest.WaitFor(t, "the push after recovery", func() bool { return src.deliveredTo(1001) == 8 })
	got := rcv.Of("1001")
	if len(got) != 1 || !slices.Equal(got[0].Seqs(), []uint64{6, 7, 8}) {
		t.Fatalf("after recovery: %d pushes, want one push of 6,7,8", len(got))
	}
	if len(src.drops()) != 5 || p.Stats().Failures != attempts {
		t.Fatalf("after recovery: %d drops, %d failures; want 5, %d", len(src.drops()), p.Stats().Failures, attempts)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.badGen != 0 {
		t.Fatalf("%d Delivered calls with the wrong Gen", src.badGen)
	}
}

// TestPushSlowReceiverDoesNotDelayOthers: while agent A's receiver holds its push,
// agent B's events are pushed, with only two workers, and Notify for A returns.
func TestPushSlowReceiverDoesNotDelayOthers(t *testing.T) {
	rcv := pushtest.New(t, nil, nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{Workers: 2})
	qa := src.agent(1001, rcv.URL(), "a")
	qb := src.agent(1002, rcv.URL(), "b")

	rcv.Hold("1001")
	pEmit(p, 1001, qa, 1, fc.Now())
	pushtest.WaitFor(t, "A's push to arrive", func() bool { return len(rcv.Of("1001")) == 1 })
	for i := uint64(1); i <= 3; i++ {
		pEmit(p, 1001, qa, 1, fc.Now()) // returns at once though A's push is held
		pEmit(p, 1002, qb, 1, fc.Now())
		pushtest.WaitFor(t, fmt.Sprintf("B's push %d", i), func() bool { return src.deliveredTo(1002) == i })
	}
	if a := rcv.Of("1001"); len(a) != 1 || a[0].Done {
		t.Fatalf("A: %d pushes, want the one held and unanswered", len(a))
	}
	rcv.Release("1001")
	pushtest.WaitFor(t, "A's pushes", func() bool { return src.deliveredTo(1001) == 4 })
	pCheckDelivery(t, rcv.Of("1001"), 4)
	pCheckDelivery(t, rcv.Of("1002"), 3)
	if n := rcv.Overlaps(); n != 0 {
		t.Fatalf("%d pushes overlapped another of the same agent", n)
	}
}

// TestPushBatchesEventsQueuedInFlight: the 5 events added while a push is held go
// together, in order, in the next push.
func TestPushBatchesEventsQueuedInFlight(t *testing.T) {
	rcv := pushtest.New(t, nil, nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{})
	q := src.agent(1001, rcv.URL(), "tok")

	rcv.Hold("1001")
	pEmit(p, 1001, q, 1, fc.Now())
	pushtest.WaitFor(t, "the first push to arrive", func() bool { return rcv.Count() == 1 })
	pEmit(p, 1001, q, 5, fc.Now())
	rcv.Release("1001")
	pushtest.WaitFor(t, "all pushes", func() bool { return src.deliveredTo(1001) == 6 })

	got := rcv.Of("1001")
	if len(got) != 2 {
		t.Fatalf("%d pushes, want 2", len(got))
	}
	if s := got[0].Seqs(); !slices.Equal(s, []uint64{1}) {
		t.Errorf("first push %v, want [1]", s)
	}
	if s := got[1].Seqs(); !slices.Equal(s, []uint64{2, 3, 4, 5, 6}) {
		t.Errorf("second push %v, want [2 3 4 5 6]", s)
	}
	for i, ev := range got[1].Events {
		if want := fmt.Sprintf(`{"i":%d}`, i+2); string(ev.Content) != want {
			t.Errorf("second push event %d content %s, want %s", i, ev.Content, want)
		}
	}
	if st := pStats(t, p, 6); st != (Stats{Pushes: 2, Delivered: 6}) {
		t.Errorf("Stats = %+v", st)
	}
}

// TestPushMaxBatch: a backlog goes out in pushes of at most MaxBatch events.
func TestPushMaxBatch(t *testing.T) {
	rcv := pushtest.New(t, pushtest.Always(pushtest.OK), nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{MaxBatch: 4})
	q := src.agent(1001, rcv.URL(), "tok")
	for i := 0; i < 10; i++ {
		q.Add(ccgw.EvReady, nil, fc.Now())
	}
	p.Notify(1001)
	pushtest.WaitFor(t, "the backlog", func() bool { return src.deliveredTo(1001) == 10 })
	var sizes []int
	for _, pp := range rcv.Of("1001") {
		sizes = append(sizes, len(pp.Events))
	}
	if !slices.Equal(sizes, []int{4, 4, 2}) {
		t.Fatalf("push sizes %v, want [4 4 2]", sizes)
	}
	pCheckDelivery(t, rcv.Of("1001"), 10)
}

// TestPushConcurrentOrdered: many agents, producers running concurrently, a
// receiver failing every 7th request; each agent gets all its events once, in
// order, never two pushes at once.
func TestPushConcurrentOrdered(t *testing.T) {
	const agents, perAgent = 40, 30
	rcv := pushtest.New(t, func(n int, _ pushtest.Push) pushtest.Answer {
		if n%7 == 0 {
			return pushtest.Fail500
		}
		return pushtest.OK
	}, nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{Retry: RetryExponential, Workers: 8, MaxAttempts: 1000, BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	queues := make([]*event.Queue, agents)
	for i := range queues {
		queues[i] = src.agent(ccgw.AgentID(2001+i), rcv.URL(), "tok")
	}
	var wg sync.WaitGroup
	for i := range queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perAgent; j++ {
				pEmit(p, ccgw.AgentID(2001+i), queues[i], 1, pStart)
			}
		}()
	}
	wg.Wait()
	done := func() bool {
		for i := range queues {
			if src.deliveredTo(ccgw.AgentID(2001+i)) != perAgent {
				return false
			}
		}
		return true
	}
	pushtest.WaitFor(t, "every agent's events", func() bool {
		fc.Advance(10 * time.Millisecond) // fire due retries
		return done()
	})
	for i := range queues {
		pCheckDelivery(t, rcv.Of(strconv.Itoa(2001+i)), perAgent)
	}
	if n := rcv.Overlaps(); n != 0 {
		t.Fatalf("%d pushes overlapped another of the same agent", n)
	}
	if st := pStats(t, p, agents*perAgent); st.Failures == 0 {
		t.Fatalf("Stats = %+v, want %d delivered and some failures", st, agents*perAgent)
	}
	if d := src.drops(); len(d) != 0 {
		t.Fatalf("%d drops", len(d))
	}
}

// pClosed runs p.Close in the background and fails tb if it has not returned
// within a generous bound.
func pClosed(tb testing.TB, p *Pusher) {
	tb.Helper()
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute): // a guard: it takes milliseconds
		tb.Fatal("Close hangs")
	}
}

// TestPushCloseWithRetryPending: Close returns at once while a retry waits,
// stops its timer, and nothing is pushed after; Close again is a no-op.
func TestPushCloseWithRetryPending(t *testing.T) {
	rcv := pushtest.New(t, pushtest.Always(pushtest.Fail500), nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{Retry: RetryExponential, BaseBackoff: time.Second})
	q := src.agent(1001, rcv.URL(), "tok")
	pEmit(p, 1001, q, 2, fc.Now())
	pushtest.WaitFor(t, "retry timer", func() bool { return fc.Pending() == 1 })

	pClosed(t, p)
	if fc.Pending() != 0 {
		t.Fatalf("%d timers left after Close", fc.Pending())
	}
	fc.Advance(time.Hour)
	pEmit(p, 1001, q, 1, fc.Now()) // Notify after Close: ignored
	pClosed(t, p)
	p.mu.Lock()
	runq := len(p.runq)
	p.mu.Unlock()
	if runq != 0 || rcv.Count() != 1 {
		t.Fatalf("after Close: %d queued to run, %d pushes; want 0, 1", runq, rcv.Count())
	}
	if q.Len() != 3 || len(src.drops()) != 0 {
		t.Fatalf("after Close: %d events queued, %d dropped; want 3 kept", q.Len(), len(src.drops()))
	}
}

// TestPushCloseWaitsForPushInFlight: Close lets the push in flight finish and
// leaves the events queued meanwhile in their queue.
func TestPushCloseWaitsForPushInFlight(t *testing.T) {
	rcv := pushtest.New(t, nil, nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{})
	q := src.agent(1001, rcv.URL(), "tok")
	rcv.Hold("1001")
	pEmit(p, 1001, q, 1, fc.Now())
	pushtest.WaitFor(t, "the push to arrive", func() bool { return rcv.Count() == 1 })
	pEmit(p, 1001, q, 4, fc.Now())

	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	pushtest.WaitFor(t, "Close to begin", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.closed
	})
	select {
	case <-closed:
		t.Fatal("Close returned with a push in flight")
	default:
	}
	rcv.Release("1001")
	select {
	case <-closed:
	case <-time.After(time.Minute): // a guard: it takes milliseconds
		t.Fatal("Close hangs")
	}
	if src.deliveredTo(1001) != 1 || q.Len() != 4 || rcv.Count() != 1 {
		t.Fatalf("after Close: delivered to %d, %d queued, %d pushes; want 1, 4, 1", src.deliveredTo(1001), q.Len(), rcv.Count())
	}
}

// TestPushForgetsAgentWithoutTarget: an agent whose target is gone is skipped
// and forgotten; others are unaffected.
func TestPushForgetsAgentWithoutTarget(t *testing.T) {
	rcv := pushtest.New(t, pushtest.Always(pushtest.OK), nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{Workers: 1})
	p.Notify(1009) // unknown to the source
	q := src.agent(1001, rcv.URL(), "tok")
	pEmit(p, 1001, q, 1, fc.Now())
	pushtest.WaitFor(t, "the known agent's push", func() bool { return src.deliveredTo(1001) == 1 })
	pushtest.WaitFor(t, "the pusher to go idle", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.agents) == 0
	})
	if got := rcv.All(); len(got) != 1 || got[0].WorkNo != "1001" {
		t.Fatalf("pushes %d, want one for 1001", len(got))
	}
}

// TestPushAttemptsCountPerBatch: an accepted push starts the count of attempts
// (and the backoff) afresh for the next batch.
func TestPushAttemptsCountPerBatch(t *testing.T) {
	const base, max = 100 * time.Millisecond, time.Second
	// Requests 1, 2 fail, 3 is accepted; 4, 5 fail, 6 is accepted.
	rcv := pushtest.New(t, func(n int, _ pushtest.Push) pushtest.Answer {
		if n%3 == 0 {
			return pushtest.OK
		}
		return pushtest.Fail500
	}, nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{Retry: RetryExponential, MaxAttempts: 3, BaseBackoff: base, MaxBackoff: max, MaxBatch: 2})
	q := src.agent(1001, rcv.URL(), "tok")
	pEmit(p, 1001, q, 4, fc.Now()) // two batches back to back: the agent never goes idle
	for batch := uint64(1); batch <= 2; batch++ {
		pAwaitRetry(t, fc, rcv.Count, 1, base, max)
		pAwaitRetry(t, fc, rcv.Count, 2, base, max)
		pushtest.WaitFor(t, "the accepted push", func() bool { return src.deliveredTo(1001) == 2*batch })
	}
	pCheckDelivery(t, rcv.Of("1001"), 4)
	if d := src.drops(); len(d) != 0 {
		t.Fatalf("%d drops: the second batch's attempts were counted with the first's", len(d))
	}
}

// pReceiverOf returns p's stats for the receiver of url.
func pReceiverOf(p *Pusher, url string) (ReceiverStats, bool) {
	for _, r := range p.Receivers() {
		if r.Key == receiverKey(url) {
			return r, true
		}
	}
	return ReceiverStats{}, false
}

// TestPushDeadReceiverDoesNotStarveOthers: a receiver that never answers, with
// more agents than workers, holds only its own limit of pushes (workers); the
// rest of its agents wait without a worker, and every agent of a healthy
// receiver is delivered meanwhile.
func TestPushDeadReceiverDoesNotStarveOthers(t *testing.T) {
	const workers, deadAgents, liveAgents = 16, 40, 40
	hang := make(chan struct{})
	dead := pushtest.New(t, func(int, pushtest.Push) pushtest.Answer { <-hang; return pushtest.Fail503JS }, nil)
	live := pushtest.New(t, pushtest.Always(pushtest.OK), nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{Workers: workers, AttemptTimeout: time.Minute})
	t.Cleanup(func() { close(hang) }) // first: lets Close finish the held pushes

	for i := range deadAgents {
		id := ccgw.AgentID(3001 + i)
		pEmit(p, id, src.agent(id, dead.URL(), "tok"), 1, fc.Now())
	}
	pushtest.WaitFor(t, "the dead receiver's limit of pushes, the rest of its agents in line", func() bool {
		r, _ := pReceiverOf(p, dead.URL())
		return dead.Count() == limitInitial && r.Waiting == deadAgents-limitInitial
	})
	if r, _ := pReceiverOf(p, dead.URL()); r.Limit != limitInitial || r.InFlight != limitInitial {
		t.Fatalf("dead receiver %+v, want limit %d, %d in flight", r, limitInitial, limitInitial)
	}

	for i := range liveAgents {
		id := ccgw.AgentID(4001 + i)
		pEmit(p, id, src.agent(id, live.URL(), "tok"), 2, fc.Now())
	}
	pushtest.WaitFor(t, "every healthy agent's events", func() bool {
		for i := range liveAgents {
			if src.deliveredTo(ccgw.AgentID(4001+i)) != 2 {
				return false
			}
		}
		return true
	})
	for i := range liveAgents {
		pCheckDelivery(t, live.Of(strconv.Itoa(4001+i)), 2)
	}
	if n := dead.Count(); n != limitInitial {
		t.Fatalf("the dead receiver got %d pushes, want its limit %d", n, limitInitial)
	}
	p.mu.Lock()
	started := p.workers
	p.mu.Unlock()
	if started > workers {
		t.Fatalf("%d workers started, want at most %d", started, workers)
	}
}

// TestPushWorkersOnDemand: no worker runs before there is work; one agent's
// pushes, one at a time, need one.
func TestPushWorkersOnDemand(t *testing.T) {
	rcv := pushtest.New(t, pushtest.Always(pushtest.OK), nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{})
	workers := func() (started, asleep int) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.workers, p.asleep
	}
	if n, _ := workers(); n != 0 {
		t.Fatalf("%d workers before any work, want 0", n)
	}
	q := src.agent(1001, rcv.URL(), "tok")
	for i := uint64(1); i <= 5; i++ {
		pEmit(p, 1001, q, 1, fc.Now())
		pushtest.WaitFor(t, fmt.Sprintf("push %d, then every worker asleep", i), func() bool {
			n, asleep := workers()
			return src.deliveredTo(1001) == i && n == asleep
		})
	}
	if n, _ := workers(); n != 1 {
		t.Fatalf("%d workers for one agent's pushes one at a time, want 1", n)
	}
}

// TestPushFailingReceiverLimitShrinks: a receiver answering 503 to everything
// ends with limit 1, one answering with a refusing retcode keeps its limit.
func TestPushFailingReceiverLimitShrinks(t *testing.T) {
	failing := pushtest.New(t, pushtest.Always(pushtest.Fail500), nil)
	refusing := pushtest.New(t, pushtest.Always(pushtest.FailRet), nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{Retry: RetryExponential, MaxAttempts: 1})
	const agents = 30
	for i := range agents {
		a, b := ccgw.AgentID(5001+i), ccgw.AgentID(6001+i)
		pEmit(p, a, src.agent(a, failing.URL(), "tok"), 1, fc.Now())
		pEmit(p, b, src.agent(b, refusing.URL(), "tok"), 1, fc.Now())
	}
	pushtest.WaitFor(t, "every push to be given up", func() bool { return len(src.drops()) == 2*agents })
	f, _ := pReceiverOf(p, failing.URL())
	r, _ := pReceiverOf(p, refusing.URL())
	if f.Limit >= limitInitial || r.Limit < limitInitial {
		t.Fatalf("limits: failing %d, refusing %d; want below %d, at least %d", f.Limit, r.Limit, limitInitial, limitInitial)
	}
}

// TestPushReceiverLeavesWorkersToOthers: with 4 workers a receiver may have 3
// pushes in flight, not 4, so that one that holds them leaves a worker to the
// others.
func TestPushReceiverLeavesWorkersToOthers(t *testing.T) {
	hang := make(chan struct{})
	held := pushtest.New(t, func(int, pushtest.Push) pushtest.Answer { <-hang; return pushtest.OK }, nil)
	live := pushtest.New(t, pushtest.Always(pushtest.OK), nil)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{Workers: 4, AttemptTimeout: time.Minute})
	t.Cleanup(func() { close(hang) })
	for i := range 10 {
		id := ccgw.AgentID(3001 + i)
		pEmit(p, id, src.agent(id, held.URL(), "tok"), 1, fc.Now())
	}
	pushtest.WaitFor(t, "3 held pushes", func() bool { return held.Count() == 3 })
	for i := range 5 {
		id := ccgw.AgentID(4001 + i)
		pEmit(p, id, src.agent(id, live.URL(), "tok"), 1, fc.Now())
	}
	pushtest.WaitFor(t, "the other receiver's agents", func() bool {
		for i := range 5 {
			if src.deliveredTo(ccgw.AgentID(4001+i)) != 1 {
				return false
			}
		}
		return true
	})
	pushtest.WaitFor(t, "the held receiver's other agents in line", func() bool {
		r, _ := pReceiverOf(p, held.URL())
		return r.Waiting == 7
	})
	if r, _ := pReceiverOf(p, held.URL()); r.Limit != 3 || r.InFlight != 3 || held.Count() != 3 {
		t.Fatalf("held receiver %+v, %d pushes; want limit 3, 3 in flight, 3 pushes", r, held.Count())
	}
}

// PushFailed records the sign-out and, as the session's end would, takes the
// agent's target away: this source keeps no ended session's last events, so the
// Pusher has nothing more to send.
func (s *pSource) PushFailed(id ccgw.AgentID, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signedOut = append(s.signedOut, pSignOut{id, gen})
	if t, ok := s.targets[id]; ok && t.Gen == gen {
		delete(s.targets, id)
	}
}

// rotatingSource changes its agent's GUID and token right after the first
// PushTarget of a delivery, as a heartbeat that rotates the GUID between the
// pusher's read of the target and of the queue would.
type rotatingSource struct {
	*pSource
	once sync.Once
}

func (s *rotatingSource) PushTarget(id ccgw.AgentID) (Target, bool) {
	t, ok := s.pSource.PushTarget(id)
	s.once.Do(func() {
		s.update(id, func(t *Target) { t.GUID, t.Token = "guid-rotated", "token-new" })
	})
	return t, ok
}

// TestPushCarriesCredentialsAsNew: a push carries the session's GUID and
// service token as they are when its events are taken, not as they were when
// the pusher first read the target.
func TestPushCarriesCredentialsAsNew(t *testing.T) {
	rcv := pushtest.New(t, nil, nil)
	src := &rotatingSource{pSource: pNewSource()}
	q := src.agent(1001, rcv.URL(), "token-old")
	fc := clock.NewVirtual(pStart)
	p := New(Config{Source: src, Clock: fc, Seed: 1, Policy: &CallbackPolicy{AllowPrivate: true}})
	p.Start()
	t.Cleanup(p.Close)
	pEmit(p, 1001, q, 1, fc.Now())
	pushtest.WaitFor(t, "the push", func() bool { return rcv.Answered(1) })
	h := rcv.All()[0].Header
	if g, tok := h.Get("Guid"), h.Get("service_token"); g != "guid-rotated" || tok != "token-new" {
		t.Fatalf("push carried Guid %q service_token %q, want the rotated ones", g, tok)
	}
}
