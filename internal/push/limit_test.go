package push

import (
	"math"
	"testing"
	"time"
)

func TestNextLimit(t *testing.T) {
	const ms = time.Millisecond
	for _, c := range []struct {
		name      string
		limit     float64
		base, rtt time.Duration
		used      bool
		lo, hi    float64
		want      float64
	}{
		{"no queue, in use: grow by half", 8, 10 * ms, 10 * ms, true, 1, 256, 12},
		{"no queue, small: grow by 1 at least", 1, 10 * ms, 10 * ms, true, 1, 256, 2},
		{"no queue, not in use: keep", 8, 10 * ms, 10 * ms, false, 1, 256, 8},
		{"no queue, at the top: keep", 256, 10 * ms, 10 * ms, true, 1, 256, 256},
		{"growth stops at hi", 200, 10 * ms, 10 * ms, true, 1, 256, 256},
		{"small queue (2 of 10): grow by 1", 10, 8 * ms, 10 * ms, true, 1, 256, 11},
		{"small queue, not in use: keep", 10, 8 * ms, 10 * ms, false, 1, 256, 10},
		{"queue 15 of 40: grow by 1", 40, 25 * ms, 40 * ms, true, 1, 256, 41},
		{"queue 20 of 40 (between alpha and beta): keep", 40, 20 * ms, 40 * ms, true, 1, 256, 40},
		{"queue 36 of 40 (above beta): to limit·base/rtt + alpha", 40, 4 * ms, 40 * ms, true, 1, 256, 20},
		{"above beta, not in use: shrink too", 40, 4 * ms, 40 * ms, false, 1, 256, 20},
		{"far above: at most halve", 100, 1 * ms, 100 * ms, true, 1, 256, 50},
		{"shrink stops at lo", 100, 1 * ms, 100 * ms, true, 60, 256, 60},
		// No more than the limit can queue: below beta, latency alone never shrinks it.
		{"10, rtt 100·base: queue < alpha, grow", 10, 1 * ms, 100 * ms, true, 1, 256, 11},
		{"100, queue 30 (rtt 1.43·base): keep", 100, 70 * ms, 100 * ms, true, 1, 256, 100},
		{"100, queue 50: to 66", 100, 50 * ms, 100 * ms, true, 1, 256, 66},
		{"no base yet: keep", 8, 0, 10 * ms, true, 1, 256, 8},
		{"rtt below base (base lowered since): grow", 8, 10 * ms, 9 * ms, true, 1, 256, 12},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := nextLimit(c.limit, c.base, c.rtt, c.used, c.lo, c.hi)
			if math.Abs(got-c.want) > 1e-9 {
				t.Fatalf("nextLimit(%v, base %v, rtt %v, used %v, [%v, %v]) = %v, want %v", c.limit, c.base, c.rtt, c.used, c.lo, c.hi, got, c.want)
			}
		})
	}
}

// lSim feeds a limiter samples on a fake timeline: each round is one window of
// Limit attempts started together.
type lSim struct {
	l   limiter
	now time.Time
}

func lNew(lo, hi int) *lSim { return &lSim{l: newLimiter(lo, hi), now: pStart} }

// round runs one window: max(Limit, limitMinWin) attempts, each taking rtt (or
// failing if failed), started with inflight in flight (0: the limit).
func (s *lSim) round(rtt time.Duration, inflight int, failed bool) {
	n := max(s.l.Limit(), limitMinWin)
	if inflight == 0 {
		inflight = s.l.Limit()
	}
	start := s.now
	s.now = s.now.Add(rtt)
	for range n {
		s.l.Observe(start, s.now, inflight, failed)
	}
}

// rounds runs n rounds and returns the limits after each.
func (s *lSim) rounds(n int, rtt time.Duration, inflight int, failed bool) []int {
	out := make([]int, n)
	for i := range out {
		s.round(rtt, inflight, failed)
		out[i] = s.l.Limit()
	}
	return out
}

func TestLimiterStartsAtInitial(t *testing.T) {
	for _, c := range []struct{ lo, hi, want int }{
		{1, 256, limitInitial},
		{1, 4, 4},
		{0, 0, 1},
		{16, 256, 16},
	} {
		l := newLimiter(c.lo, c.hi)
		if got := l.Limit(); got != c.want {
			t.Errorf("newLimiter(%d, %d).Limit() = %d, want %d", c.lo, c.hi, got, c.want)
		}
	}
}

func TestLimiterGrowsWhileLatencyFlat(t *testing.T) {
	s := lNew(1, 256)
	got := s.rounds(12, 20*time.Millisecond, 0, false)
	if got[0] <= limitInitial {
		t.Fatalf("limits %v: no growth after the first window", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			t.Fatalf("limits %v: fell with flat latency", got)
		}
	}
	if got[len(got)-1] != 256 {
		t.Fatalf("limits %v: want 256 (the maximum) within 12 round trips", got)
	}
}

func TestLimiterDoesNotGrowUnused(t *testing.T) {
	s := lNew(1, 256)
	got := s.rounds(10, 20*time.Millisecond, 3, false) // 3 in flight of 8
	for _, l := range got {
		if l != limitInitial {
			t.Fatalf("limits %v: want %d throughout (3 in flight never use the limit)", got, limitInitial)
		}
	}
}

func TestLimiterShrinksOnFailures(t *testing.T) {
	s := lNew(1, 256)
	s.rounds(3, 10*time.Millisecond, 0, false) // 8 → 12 → 18 → 27
	before := s.l.Limit()
	// One window of failures is one episode: halve once.
	s.round(5*time.Second, 0, true)
	if got := s.l.Limit(); got != before/2 {
		t.Fatalf("after one window of failures: limit %d, want %d (halved once)", got, before/2)
	}
	got := s.rounds(10, 5*time.Second, 0, true)
	if got[len(got)-1] != 1 {
		t.Fatalf("limits %v under failures: want down to 1", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] > got[i-1] {
			t.Fatalf("limits %v: rose under failures", got)
		}
	}
}

func TestLimiterShrinksWhenLatencyRises(t *testing.T) {
	s := lNew(1, 256)
	s.rounds(4, time.Millisecond, 0, false)
	top := s.l.Limit()
	// CPU-bound receiver: latency grows with the pushes in flight; without
	// queueing it takes 1ms for up to 4 (the knee).
	got := make([]int, 30)
	for i := range got {
		s.round(max(time.Millisecond, time.Duration(s.l.Limit())*time.Millisecond/4), 0, false)
		got[i] = s.l.Limit()
	}
	if got[1] >= top { // the first round may end a window begun before
		t.Fatalf("limits %v from %d: no decrease in the first two slow windows", got, top)
	}
	// Queue = L − 4 pushes: settles where the queue is between alpha and beta.
	last := got[len(got)-1]
	if last < 4+limitAlpha || last > 4+limitBeta {
		t.Fatalf("limits %v: settles at %d, want %d..%d (the knee + [alpha, beta])", got, last, 4+limitAlpha, 4+limitBeta)
	}
}

func TestLimiterBounds(t *testing.T) {
	s := lNew(2, 10)
	if got := s.rounds(20, time.Millisecond, 0, false); got[len(got)-1] != 10 {
		t.Fatalf("limits %v: want up to hi = 10", got)
	}
	if got := s.rounds(20, time.Second, 0, true); got[len(got)-1] != 2 {
		t.Fatalf("limits %v: want down to lo = 2", got)
	}
}

func TestLimiterRecovers(t *testing.T) {
	s := lNew(1, 256)
	s.rounds(10, 5*time.Second, 0, true) // dead: down to 1
	if got := s.l.Limit(); got != 1 {
		t.Fatalf("limit %d while dead, want 1", got)
	}
	got := s.rounds(20, 10*time.Millisecond, 0, false)
	if got[len(got)-1] != 256 {
		t.Fatalf("limits %v after recovery: want back to 256", got)
	}
}

// TestLimiterBaseAges: when a receiver gets slower for good, the limit first
// shrinks (it looks like queueing); the probe at the minimum limit after
// limitProbeTTL measures the new latency, and the limit grows again.
func TestLimiterBaseAges(t *testing.T) {
	s := lNew(1, 256)
	s.rounds(10, time.Millisecond, 0, false)
	if s.l.Base() != time.Millisecond {
		t.Fatalf("base %v, want 1ms", s.l.Base())
	}
	// Now 20ms whatever the load (a longer path).
	var got []int
	for s.now.Sub(pStart) < 2*limitProbeTTL && !s.l.probing {
		got = append(got, s.rounds(1, 20*time.Millisecond, 0, false)...)
	}
	if !s.l.probing {
		t.Fatalf("no probe within %v", 2*limitProbeTTL)
	}
	if low := got[len(got)-1]; low > 2 {
		t.Fatalf("limits %v: want down to 1 or 2 (20× the base looks like a queue)", got)
	}
	if s.l.Limit() != 1 {
		t.Fatalf("probing: Limit %d, want the minimum 1", s.l.Limit())
	}
	// An attempt started before the probe does not count for it.
	s.l.Observe(s.now.Add(-time.Second), s.now, 1, false)
	if !s.l.probing {
		t.Fatal("a sample started before the probe ended it")
	}
	start := s.now
	for range limitProbeN {
		s.now = s.now.Add(20 * time.Millisecond)
		s.l.Observe(start, s.now, 1, false)
		start = s.now
	}
	if s.l.probing || s.l.Base() != 20*time.Millisecond {
		t.Fatalf("after the probe: probing %v, base %v; want false, 20ms", s.l.probing, s.l.Base())
	}
	got = s.rounds(20, 20*time.Millisecond, 0, false)
	if got[len(got)-1] != 256 {
		t.Fatalf("limits %v after the probe: want back to 256", got)
	}
}

// TestLimiterProbeEndsOnFailure: a failure during the probe ends it, keeping
// the old base, and cuts the limit.
func TestLimiterProbeEndsOnFailure(t *testing.T) {
	s := lNew(1, 256)
	s.rounds(2, time.Millisecond, 0, false)
	s.now = s.now.Add(limitProbeTTL)
	s.round(time.Millisecond*3, 0, false) // starts the probe
	if !s.l.probing {
		t.Fatal("no probe after limitProbeTTL")
	}
	before := s.l.limit
	s.l.Observe(s.now, s.now.Add(time.Second), 1, true)
	if s.l.probing || s.l.Base() != time.Millisecond || s.l.limit != before/2 {
		t.Fatalf("after a failed probe: probing %v, base %v, limit %v; want false, 1ms, %v", s.l.probing, s.l.Base(), s.l.limit, before/2)
	}
}

// TestLimiterZeroLatency: a fake clock measures 0; that is the fastest
// receiver, not a division by zero.
func TestLimiterZeroLatency(t *testing.T) {
	s := lNew(1, 64)
	if got := s.rounds(10, 0, 0, false); got[len(got)-1] != 64 {
		t.Fatalf("limits %v at zero latency: want up to 64", got)
	}
}

func TestReceiverKey(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"http://127.0.0.1:8080/service-cloud/rest/x", "http://127.0.0.1:8080"},
		{"https://crm.example.com/push?x=1", "https://crm.example.com"},
		{"https://crm.example.com", "https://crm.example.com"},
		{"https://crm.example.com?x=1", "https://crm.example.com"},
		{"https://user:pw@crm.example.com:443/p", "https://crm.example.com:443"},
		{"http://[::1]:9000/p#f", "http://[::1]:9000"},
		{"not a url", "not a url"},
	} {
		if got := receiverKey(c.url); got != c.want {
			t.Errorf("receiverKey(%q) = %q, want %q", c.url, got, c.want)
		}
	}
}
