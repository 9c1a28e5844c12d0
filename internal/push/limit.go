package push

import (
	"errors"
	"math"
	"net/http"
	"time"
)

// Per-receiver concurrency limit (issue 4). A receiver is one callback
// scheme+host; the Pusher lets at most limiter.Limit pushes to it be in flight.
// The limit adapts as TCP Vegas' congestion window does (Netflix
// concurrency-limits' VegasLimit is the same idea for RPC): it grows while the
// receiver answers about as fast as it does without queueing and the limit is
// in use, and it shrinks multiplicatively when latency rises well above that
// (requests queue: at the receiver, or for the CPU when the receiver is on the
// same machine) or attempts fail. The no-queueing latency is re-measured now and
// then with the limit at its minimum (BBR's PROBE_RTT), so that it can rise
// again when the path or the receiver gets slower for good.

// Limiter tuning. Queue sizes are in pushes: the in-flight pushes beyond those
// the receiver can answer with its no-queueing latency.
const (
	limitInitial  = 8                // a new receiver's limit
	limitAlpha    = 16               // grow while fewer queue
	limitBeta     = 32               // shrink when more queue
	limitProbeTTL = 10 * time.Second // re-measure base when it is this old
	limitProbeN   = 2                // samples at the minimum limit per probe
	limitMinWin   = 4                // samples per window at least
)

// limitAlpha and limitBeta are larger than TCP Vegas' 2 and 4 packets or
// Netflix's 3·log10 and 6·log10 of the limit. On the reference machine a
// loopback receiver, with the CPU the bottleneck, delivers 12–15% more at 25–30
// pushes in flight than at the 5–6 that 3 and 6 settle on, while the
// heartbeat's slowdown beside it is the same (docs/benchmarks.md "Events
// (issue 4)"). A queue of 16–32 pushes costs a receiver little; hundreds, as a
// fixed pool of 256 workers gave, is what hurt.

// limiter is one receiver's adaptive in-flight limit. It reads no clock: every
// sample carries its start and end. Not safe for concurrent use (the Pusher
// holds its mutex).
type limiter struct {
	min, max float64
	limit    float64

	base   time.Duration // lowest latency of an answered attempt: latency without queueing; 0 = none yet
	baseAt time.Time     // when base was measured or lowered
	cutAt  time.Time     // the last decrease on a failure; older attempts' failures no longer count

	probing   bool          // measuring base at the minimum limit
	probeAt   time.Time     // when the probe began; only attempts started since count
	probeBest time.Duration // lowest latency in the probe so far
	probeN    int           // answered attempts in the probe so far

	// The current window: about one round trip's worth of answered attempts.
	winN    int           // answered attempts
	winMin  time.Duration // their lowest latency (robust to a few slow ones, as Linux's Vegas)
	winUsed bool          // one of them started with at least half the limit in flight
}

// newLimiter returns a limiter between lo and hi (at least 1) starting at
// limitInitial (within them).
func newLimiter(lo, hi int) limiter {
	lo = max(lo, 1)
	hi = max(hi, lo)
	return limiter{min: float64(lo), max: float64(hi), limit: float64(min(hi, max(lo, limitInitial)))}
}

// Limit returns the number of pushes that may be in flight now.
func (l *limiter) Limit() int {
	if l.probing {
		return int(l.min)
	}
	return int(l.limit)
}

// Base returns the latency without queueing as estimated now (0: none yet).
func (l *limiter) Base() time.Duration { return l.base }

// Observe records one attempt that started at start, when inflight attempts
// (itself included) were in flight, and ended at end. failed is a failure that
// tells of overload: no answer in time, a transport error, HTTP 5xx or 429.
func (l *limiter) Observe(start, end time.Time, inflight int, failed bool) {
	if failed {
		l.fail(start, end)
		return
	}
	rtt := max(end.Sub(start), time.Nanosecond) // a fake clock measures 0
	if l.base == 0 || rtt < l.base {
		l.base, l.baseAt = rtt, end
	}
	if l.probing {
		if start.Before(l.probeAt) {
			return // started before the probe, maybe in a queue
		}
		if l.probeN == 0 || rtt < l.probeBest {
			l.probeBest = rtt
		}
		if l.probeN++; l.probeN >= limitProbeN {
			l.base, l.baseAt = l.probeBest, end
			l.probing = false
			l.resetWindow()
		}
		return
	}
	if end.Sub(l.baseAt) >= limitProbeTTL {
		l.probing, l.probeAt, l.probeN = true, end, 0
		return
	}
	if l.winN == 0 || rtt < l.winMin {
		l.winMin = rtt
	}
	l.winN++
	if 2*inflight >= int(l.limit) {
		l.winUsed = true
	}
	if l.winN >= max(int(math.Ceil(l.limit)), limitMinWin) {
		l.limit = nextLimit(l.limit, l.base, l.winMin, l.winUsed, l.min, l.max)
		l.resetWindow()
	}
}

// fail halves the limit, once per round trip: failures of attempts that started
// before the last cut are part of the same episode.
func (l *limiter) fail(start, end time.Time) {
	if l.probing {
		l.probing, l.baseAt = false, end // try again later
	}
	if start.Before(l.cutAt) {
		return
	}
	l.limit = max(l.min, l.limit/2)
	l.cutAt = end
	l.resetWindow()
}

func (l *limiter) resetWindow() { l.winN, l.winMin, l.winUsed = 0, 0, false }

// nextLimit returns the limit after a window whose lowest latency was rtt, given
// the latency without queueing base, and whether the limit was in use. The
// estimated queue is limit·(1 − base/rtt) (Vegas):
//   - at most one push queued (log10 of the limit for large ones) and the limit
//     in use: grow by half, at least 1 (few round trips from 8 to hundreds for a
//     remote receiver);
//   - fewer than limitAlpha queued and in use: grow by 1;
//   - more than limitBeta: shrink multiplicatively, to what would leave
//     limitAlpha queued if the receiver's throughput stays
//     (limit·base/rtt + limitAlpha), but at most by half;
//   - else keep it.
//
// The result is within [lo, hi].
func nextLimit(limit float64, base, rtt time.Duration, used bool, lo, hi float64) float64 {
	if base <= 0 || rtt <= 0 {
		return limit
	}
	ratio := float64(base) / float64(rtt) // ≤ 1 unless base was lowered since
	queue := limit * (1 - ratio)
	next := limit
	switch {
	case queue > limitBeta:
		next = max(limit/2, limit*ratio+limitAlpha)
	case !used:
	case queue <= max(1, math.Log10(max(limit, 1))):
		next = limit + max(1, limit/2)
	case queue < limitAlpha:
		next = limit + 1
	}
	return min(hi, max(lo, next))
}

// overload reports whether a push's error tells of a receiver that cannot keep
// up or cannot be reached: anything but an answer that refused the push
// (HTTP 4xx other than 429, or a retcode).
func overload(err error) bool {
	if err == nil {
		return false
	}
	var e errPush
	if errors.As(err, &e) {
		return e.status >= 500 || e.status == http.StatusTooManyRequests
	}
	return true
}
