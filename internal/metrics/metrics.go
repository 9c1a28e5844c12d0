// Package metrics exposes ccgw's counters in the Prometheus format on a registry
// it is given: sessions, heartbeats, sign-ins and sign-outs by cause, expiries,
// events queued, delivered and dropped by reason, and request durations by the
// spec's method name. Counters are read from the domain at scrape time, so the
// hot paths pay nothing for them.
package metrics

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/push"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sources are where the collector reads its figures; a nil func reports nothing.
type Sources struct {
	// Sessions gives the session counters. While it reports Partial, or Ready
	// reports false, the store-wide series (sessions live, sign-ins, sign-outs,
	// expiries, events queued and dropped) are left out of the scrape: a gap,
	// which Prometheus does not read as a counter reset, rather than zeros.
	Sessions func() session.Stats
	// Ready reports whether the gateway can serve (its store is open, Redis
	// reachable): ccgw_ready 1 or 0.
	Ready func() bool
	// Build labels ccgw_build_info; none is exported when it is zero.
	Build BuildInfo
	Push  func() push.Stats
	// Receivers gives each push receiver's concurrency limit and load.
	Receivers func() []push.ReceiverStats
	// Refused gives what the server refused for its limits.
	Refused func() Refused
}

// Refused counts what the server refused for its limits (docs/security.md).
type Refused struct {
	ConnsPerIP   uint64 // connections closed at once: their IP held --max-conns-per-ip
	PollsPerIP   uint64 // polls answered 429: their IP held --max-polls-per-ip
	BodyTooLarge uint64 // requests answered 413: a body over 64 KiB
	AdminStreams uint64 // event streams (admin API) answered 429: as many open as allowed
}

// BuildInfo is what ccgw_build_info{version,commit,goversion} 1 says of the binary.
type BuildInfo struct {
	Version   string // the module version ("v1.2.0"), or "(devel)"
	Commit    string // the VCS revision, "-modified" appended for a dirty tree; "" if unknown
	GoVersion string // runtime.Version()
}

// Metrics records request durations and collects the domain's counters.
type Metrics struct {
	src      Sources
	requests *prometheus.HistogramVec

	live       *prometheus.Desc
	heartbeats *prometheus.Desc
	polls      *prometheus.Desc
	signIns    *prometheus.Desc
	signOuts   *prometheus.Desc
	expiries   *prometheus.Desc
	lag        *prometheus.Desc
	queued     *prometheus.Desc
	delivered  *prometheus.Desc
	dropped    *prometheus.Desc
	pushes     *prometheus.Desc
	pushFails  *prometheus.Desc
	rcvLimit   *prometheus.Desc
	rcvFlight  *prometheus.Desc
	rcvWaiting *prometheus.Desc
	refused    *prometheus.Desc
	ready      *prometheus.Desc
	build      *prometheus.Desc
}

// New registers ccgw's metrics on reg.
func New(reg prometheus.Registerer, src Sources) (*Metrics, error) {
	m := &Metrics{
		src: src,
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ccgw_request_duration_seconds",
			Help:    "Time to answer a request, by the spec's method name and retcode class.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 2.5, 10, 30},
		}, []string{"method", "result"}),
		live:       prometheus.NewDesc("ccgw_sessions_live", "Agent sessions signed in.", nil, nil),
		heartbeats: prometheus.NewDesc("ccgw_heartbeats_total", "Accepted handShake heartbeats.", nil, nil),
		polls:      prometheus.NewDesc("ccgw_polls_total", "Accepted getAgentEvent polls.", nil, nil),
		signIns:    prometheus.NewDesc("ccgw_signins_total", "Successful sign-ins.", nil, nil),
		signOuts:   prometheus.NewDesc("ccgw_signouts_total", "Sign-outs by cause.", []string{"cause"}, nil),
		expiries:   prometheus.NewDesc("ccgw_expiries_total", "Sessions signed out for missing heartbeats.", nil, nil),
		lag:        prometheus.NewDesc("ccgw_signout_lag_seconds", "How long after its deadline a silent session was signed out (its store write done), on this node.", nil, nil),
		queued:     prometheus.NewDesc("ccgw_events_queued_total", "Events queued for agents.", nil, nil),
		delivered:  prometheus.NewDesc("ccgw_events_delivered_total", "Events delivered, by mode.", []string{"mode"}, nil),
		dropped:    prometheus.NewDesc("ccgw_events_dropped_total", "Events dropped, by reason.", []string{"reason"}, nil),
		pushes:     prometheus.NewDesc("ccgw_pushes_total", "Pushes the receiver accepted.", nil, nil),
		pushFails:  prometheus.NewDesc("ccgw_push_failures_total", "Push attempts that failed.", nil, nil),
		rcvLimit:   prometheus.NewDesc("ccgw_push_receiver_limit", "Pushes a receiver may have in flight now (adaptive), by callback scheme and host; the 100 busiest, the rest summed as receiver=\"other\".", []string{"receiver"}, nil),
		rcvFlight:  prometheus.NewDesc("ccgw_push_receiver_in_flight", "Pushes in flight to a receiver.", []string{"receiver"}, nil),
		rcvWaiting: prometheus.NewDesc("ccgw_push_receiver_waiting", "Agents waiting for a push slot of a receiver.", []string{"receiver"}, nil),
		refused:    prometheus.NewDesc("ccgw_refused_total", "Connections and requests refused for a limit, by reason.", []string{"reason"}, nil),
		ready:      prometheus.NewDesc("ccgw_ready", "1 when the gateway can serve (store open, Redis reachable), as /readyz; 0 when not.", nil, nil),
		build:      prometheus.NewDesc("ccgw_build_info", "Always 1; the labels say which build of ccgw runs.", []string{"version", "commit", "goversion"}, nil),
	}
	if err := reg.Register(m.requests); err != nil {
		return nil, err
	}
	if err := reg.Register(m); err != nil {
		return nil, err
	}
	return m, nil
}

// ObserveRequest records one request's duration under its method name;
// result is "ok" for retcode 0 and "error" otherwise.
func (m *Metrics) ObserveRequest(method string, code ccgw.Retcode, took time.Duration) {
	result := "error"
	if code == ccgw.RetOK {
		result = "ok"
	}
	m.requests.WithLabelValues(method, result).Observe(took.Seconds())
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.live, m.heartbeats, m.polls, m.signIns, m.signOuts, m.expiries, m.lag,
		m.queued, m.delivered, m.dropped, m.pushes, m.pushFails, m.rcvLimit, m.rcvFlight, m.rcvWaiting, m.refused, m.ready, m.build} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	if b := m.src.Build; b != (BuildInfo{}) {
		ch <- prometheus.MustNewConstMetric(m.build, prometheus.GaugeValue, 1, b.Version, b.Commit, b.GoVersion)
	}
	ready := true
	if m.src.Ready != nil {
		ready = m.src.Ready()
		ch <- prometheus.MustNewConstMetric(m.ready, prometheus.GaugeValue, b2f(ready))
	}
	if m.src.Sessions != nil {
		m.collectSessions(ch, m.src.Sessions(), ready)
	}
	if m.src.Push != nil {
		ps := m.src.Push()
		ch <- prometheus.MustNewConstMetric(m.delivered, prometheus.CounterValue, float64(ps.Delivered), "push")
		ch <- prometheus.MustNewConstMetric(m.pushes, prometheus.CounterValue, float64(ps.Pushes))
		ch <- prometheus.MustNewConstMetric(m.pushFails, prometheus.CounterValue, float64(ps.Failures))
	}
	if m.src.Refused != nil {
		r := m.src.Refused()
		ch <- prometheus.MustNewConstMetric(m.refused, prometheus.CounterValue, float64(r.ConnsPerIP), "conns_per_ip")
		ch <- prometheus.MustNewConstMetric(m.refused, prometheus.CounterValue, float64(r.PollsPerIP), "polls_per_ip")
		ch <- prometheus.MustNewConstMetric(m.refused, prometheus.CounterValue, float64(r.BodyTooLarge), "body_too_large")
		ch <- prometheus.MustNewConstMetric(m.refused, prometheus.CounterValue, float64(r.AdminStreams), "admin_streams")
	}
	if m.src.Receivers != nil {
		for _, r := range topReceivers(m.src.Receivers(), MaxReceivers) {
			ch <- prometheus.MustNewConstMetric(m.rcvLimit, prometheus.GaugeValue, float64(r.Limit), r.Key)
			ch <- prometheus.MustNewConstMetric(m.rcvFlight, prometheus.GaugeValue, float64(r.InFlight), r.Key)
			ch <- prometheus.MustNewConstMetric(m.rcvWaiting, prometheus.GaugeValue, float64(r.Waiting), r.Key)
		}
	}
}

// collectSessions sends the session series of st: this node's counters always,
// the store-wide ones only when the store is ready and they could be read.
func (m *Metrics) collectSessions(ch chan<- prometheus.Metric, st session.Stats, ready bool) {
	ch <- prometheus.MustNewConstMetric(m.heartbeats, prometheus.CounterValue, float64(st.Heartbeats))
	ch <- prometheus.MustNewConstMetric(m.polls, prometheus.CounterValue, float64(st.Polls))
	ch <- prometheus.MustNewConstMetric(m.delivered, prometheus.CounterValue, float64(st.Polled), "poll")
	if h := st.SignOutLag; h != nil {
		buckets := make(map[float64]uint64, len(h.Bounds))
		for i, b := range h.Bounds {
			buckets[b] = h.Cumulative[i]
		}
		ch <- prometheus.MustNewConstHistogram(m.lag, h.Count, h.Sum, buckets)
	}
	if st.Partial || !ready {
		return // unknown: a gap, not a reset to 0
	}
	ch <- prometheus.MustNewConstMetric(m.live, prometheus.GaugeValue, float64(st.Live))
	ch <- prometheus.MustNewConstMetric(m.signIns, prometheus.CounterValue, float64(st.SignIns))
	ch <- prometheus.MustNewConstMetric(m.expiries, prometheus.CounterValue, float64(st.Expiries))
	ch <- prometheus.MustNewConstMetric(m.queued, prometheus.CounterValue, float64(st.Queued))
	for _, c := range []ccgw.SignOutCause{ccgw.CauseLogout, ccgw.CauseForceLogout, ccgw.CauseReplaced, ccgw.CauseTimeout, ccgw.CauseSupervisor, ccgw.CausePushFailed} {
		ch <- prometheus.MustNewConstMetric(m.signOuts, prometheus.CounterValue, float64(st.SignOuts[c]), string(c))
	}
	for _, r := range []ccgw.DropReason{ccgw.DropQueueFull, ccgw.DropSessionEnded, ccgw.DropPushFailed, ccgw.DropFault} {
		ch <- prometheus.MustNewConstMetric(m.dropped, prometheus.CounterValue, float64(st.Drops[r]), string(r))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// MaxReceivers is how many push receivers get series of their own: callback
// URLs come from clients, so their hosts are unbounded. The rest are summed
// under receiver="other".
const MaxReceivers = 100

// OtherReceivers is the receiver label of the receivers beyond MaxReceivers.
const OtherReceivers = "other"

// topReceivers returns the max receivers of rs with the most pushes in flight
// and agents waiting (ties: by key), and, if there were more, one more entry
// keyed OtherReceivers with the sum of the rest's limits and loads. It sorts rs.
func topReceivers(rs []push.ReceiverStats, max int) []push.ReceiverStats {
	if len(rs) <= max {
		return rs
	}
	slices.SortFunc(rs, func(a, b push.ReceiverStats) int {
		if c := cmp.Compare(b.InFlight+b.Waiting, a.InFlight+a.Waiting); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	other := push.ReceiverStats{Key: OtherReceivers}
	for _, r := range rs[max:] {
		other.Limit += r.Limit
		other.InFlight += r.InFlight
		other.Waiting += r.Waiting
	}
	return append(rs[:max:max], other)
}

// Handler serves the metrics gathered by g.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}
