package loadtest

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ccgw/ccgw"
)

// Latency summarizes one histogram.
type Latency struct {
	N              uint64
	P50, P99, P999 time.Duration
	Min, Max, Mean time.Duration
}

func latencyOf(h *Histogram) Latency {
	return Latency{
		N:   h.Count(),
		P50: h.Quantile(0.50), P99: h.Quantile(0.99), P999: h.Quantile(0.999),
		Min: h.Min(), Max: h.Max(), Mean: h.Mean(),
	}
}

// Report is what one run measured. Latency and throughput cover the measured
// window (requests sent in it); retcodes, errors and false sign-outs the whole run.
type Report struct {
	Label      string // "ccgw", or "baseline" for the bare net/http server
	Where      string // baseline only: where the server ran, e.g. "in the bench process"
	URL        string
	Agents     int // asked for
	SignedIn   int // of them, signed in
	Interval   time.Duration
	Conns      int
	Polled     bool
	SignInTime time.Duration // from the first sign-in to the last answer

	Elapsed   time.Duration // length of the measured window
	Requests  int64         // heartbeats and polls sent in the window and answered
	RPS       float64       // Requests per second of Elapsed
	HandShake Latency       // heartbeats sent in the window
	Poll      Latency       // polls sent in the window; zero without Config.Poll
	SignIn    Latency       // every login and forceLogin

	Retcodes      map[string]map[string]int64 // spec method name → retcode → answers, whole run
	Errors        int64                       // requests without an answer (transport errors)
	FirstError    string
	FalseSignOuts int64         // heartbeats or polls answered 100-006/000-003 for an agent kept alive
	Skipped       int64         // heartbeat slots skipped: the agent's previous one had not finished
	MaxLag        time.Duration // latest a heartbeat was handed to a connection, after its slot

	RSS             int64 // gateway's process_resident_memory_bytes at the end; -1 unknown
	SessionsLive    int64 // gateway's ccgw_sessions_live at the end; -1 unknown
	TimeoutSignOuts int64 // increase of ccgw_signouts_total{cause="timeout"} over the run; -1 unknown

	Series   []Point // per second of the window
	Baseline *Report // the same load against a bare net/http server, if asked for
}

// OK reports whether every agent signed in, every request was answered with
// retcode 0 (or, for a login, 100-002, which the forceLogin after it settles) and
// no agent was falsely signed out.
func (r *Report) OK() bool {
	if r.Errors > 0 || r.FalseSignOuts > 0 || r.SignedIn < r.Agents {
		return false
	}
	for op, m := range r.Retcodes {
		for code, n := range m {
			if code != string(ccgw.RetOK) && n > 0 && !(op == opLogin && code == string(ccgw.RetAlreadySignedIn)) {
				return false
			}
		}
	}
	return true
}

// WriteText writes the report for people, one figure per line.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	poll := ""
	if r.Polled {
		poll = " and poll"
	}
	fmt.Fprintf(&b, "ccgw bench: %s, %d agents, heartbeat%s every %v, %d connections\n",
		r.URL, r.Agents, poll, r.Interval, r.Conns)
	line := func(k, format string, a ...any) {
		fmt.Fprintf(&b, "%-17s %s\n", k+":", fmt.Sprintf(format, a...))
	}
	rate := 0.0
	if r.SignInTime > 0 {
		rate = float64(r.SignedIn) / r.SignInTime.Seconds()
	}
	line("sign-in", "%d/%d agents in %v (%.0f/s), %s", r.SignedIn, r.Agents, r.SignInTime.Round(time.Millisecond), rate, fmtLatency(r.SignIn))
	line("throughput", "%.1f requests/s (%d keep-alive requests in %v)", r.RPS, r.Requests, r.Elapsed.Round(time.Millisecond))
	line("handShake", "%s", fmtLatency(r.HandShake))
	if r.Polled {
		line("getAgentEvent", "%s", fmtLatency(r.Poll))
	}
	line("retcodes", "%s", fmtRetcodes(r.Retcodes))
	line("false sign-outs", "%d", r.FalseSignOuts)
	line("schedule", "max lag %s, %d heartbeats skipped, %d transport errors", fmtDur(r.MaxLag), r.Skipped, r.Errors)
	if r.FirstError != "" {
		line("first error", "%s", r.FirstError)
	}
	line("gateway", "RSS %s, sessions live %s, timeout sign-outs %s",
		fmtBytes(r.RSS), fmtCount(r.SessionsLive), fmtDelta(r.TimeoutSignOuts))
	if bl := r.Baseline; bl != nil {
		what := "bare net/http"
		if bl.Where != "" {
			what += " " + bl.Where
		}
		rss := ""
		if bl.RSS >= 0 {
			rss = ", RSS " + fmtBytes(bl.RSS)
		}
		line("baseline", "%s at %s: %.1f requests/s, %s, %d false sign-outs%s",
			what, bl.URL, bl.RPS, fmtLatency(bl.HandShake), bl.FalseSignOuts, rss)
		line("ccgw/baseline", "requests/s %s, p50 %s, p99 %s, p99.9 %s",
			ratio(r.RPS, bl.RPS), ratio(float64(r.HandShake.P50), float64(bl.HandShake.P50)),
			ratio(float64(r.HandShake.P99), float64(bl.HandShake.P99)),
			ratio(float64(r.HandShake.P999), float64(bl.HandShake.P999)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtLatency(l Latency) string {
	if l.N == 0 {
		return "no answers"
	}
	return fmt.Sprintf("p50 %s  p99 %s  p99.9 %s  max %s  (n=%d)",
		fmtDur(l.P50), fmtDur(l.P99), fmtDur(l.P999), fmtDur(l.Max), l.N)
}

func fmtRetcodes(m map[string]map[string]int64) string {
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(m)) {
		for _, code := range slices.Sorted(maps.Keys(m[op])) {
			parts = append(parts, fmt.Sprintf("%s %s×%d", op, code, m[op][code]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// fmtDur formats a latency with three significant digits or so.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

func fmtBytes(n int64) string {
	if n < 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func fmtCount(n int64) string {
	if n < 0 {
		return "unknown"
	}
	return fmt.Sprint(n)
}

func fmtDelta(n int64) string {
	if n < 0 {
		return "unknown"
	}
	return fmt.Sprintf("+%d", n)
}

// ratio formats a/b as "1.23×", or "n/a" when b is zero.
func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", a/b)
}
