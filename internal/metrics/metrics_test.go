package metrics

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/push"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollectReadsTheDomain(t *testing.T) {
	st := session.Stats{
		Live: 7, Heartbeats: 11, Polls: 5, SignIns: 9, Expiries: 2, Queued: 40, Polled: 30,
		SignOuts: map[ccgw.SignOutCause]uint64{ccgw.CauseTimeout: 2, ccgw.CauseLogout: 1},
		Drops:    map[ccgw.DropReason]uint64{ccgw.DropQueueFull: 3, ccgw.DropPushFailed: 4},
	}
	ps := push.Stats{Pushes: 6, Delivered: 8, Failures: 1}
	reg := prometheus.NewRegistry()
	rcv := []push.ReceiverStats{{Key: "https://crm.example:8443", Limit: 12, InFlight: 5, Waiting: 3}}
	m, err := New(reg, Sources{Sessions: func() session.Stats { return st }, Push: func() push.Stats { return ps },
		Receivers: func() []push.ReceiverStats { return rcv },
		Refused:   func() Refused { return Refused{ConnsPerIP: 13, PollsPerIP: 14, BodyTooLarge: 15, AdminStreams: 16} }})
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveRequest("handShake", ccgw.RetOK, 2*time.Millisecond)
	m.ObserveRequest("handShake", ccgw.RetNotSignedIn, time.Millisecond)

	want := `
# HELP ccgw_sessions_live Agent sessions signed in.
# TYPE ccgw_sessions_live gauge
ccgw_sessions_live 7
# HELP ccgw_signouts_total Sign-outs by cause.
# TYPE ccgw_signouts_total counter
ccgw_signouts_total{cause="force_logout"} 0
ccgw_signouts_total{cause="logout"} 1
ccgw_signouts_total{cause="push_failed"} 0
ccgw_signouts_total{cause="replaced"} 0
ccgw_signouts_total{cause="supervisor"} 0
ccgw_signouts_total{cause="timeout"} 2
# HELP ccgw_events_dropped_total Events dropped, by reason.
# TYPE ccgw_events_dropped_total counter
ccgw_events_dropped_total{reason="fault"} 0
ccgw_events_dropped_total{reason="push_failed"} 4
ccgw_events_dropped_total{reason="queue_full"} 3
ccgw_events_dropped_total{reason="session_ended"} 0
# HELP ccgw_events_delivered_total Events delivered, by mode.
# TYPE ccgw_events_delivered_total counter
ccgw_events_delivered_total{mode="poll"} 30
ccgw_events_delivered_total{mode="push"} 8
# HELP ccgw_push_receiver_limit Pushes a receiver may have in flight now (adaptive), by callback scheme and host; the 100 busiest, the rest summed as receiver="other".
# TYPE ccgw_push_receiver_limit gauge
ccgw_push_receiver_limit{receiver="https://crm.example:8443"} 12
# HELP ccgw_push_receiver_in_flight Pushes in flight to a receiver.
# TYPE ccgw_push_receiver_in_flight gauge
ccgw_push_receiver_in_flight{receiver="https://crm.example:8443"} 5
# HELP ccgw_push_receiver_waiting Agents waiting for a push slot of a receiver.
# TYPE ccgw_push_receiver_waiting gauge
ccgw_push_receiver_waiting{receiver="https://crm.example:8443"} 3
# HELP ccgw_refused_total Connections and requests refused for a limit, by reason.
# TYPE ccgw_refused_total counter
ccgw_refused_total{reason="admin_streams"} 16
ccgw_refused_total{reason="body_too_large"} 15
ccgw_refused_total{reason="conns_per_ip"} 13
ccgw_refused_total{reason="polls_per_ip"} 14
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"ccgw_sessions_live", "ccgw_signouts_total", "ccgw_events_dropped_total", "ccgw_events_delivered_total",
		"ccgw_push_receiver_limit", "ccgw_push_receiver_in_flight", "ccgw_push_receiver_waiting", "ccgw_refused_total"); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]float64{
		"ccgw_heartbeats_total": 11, "ccgw_polls_total": 5, "ccgw_signins_total": 9, "ccgw_expiries_total": 2,
		"ccgw_events_queued_total": 40, "ccgw_pushes_total": 6, "ccgw_push_failures_total": 1,
	} {
		if got := gathered(t, reg, name); got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	if n := testutil.CollectAndCount(m.requests); n != 2 {
		t.Fatalf("request histogram has %d series, want ok and error", n)
	}

	rec := httptest.NewRecorder()
	Handler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `ccgw_request_duration_seconds_count{method="handShake",result="error"} 1`) {
		t.Fatalf("exposition lacks the error request:\n%s", rec.Body)
	}
}

func gathered(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			m := mf.GetMetric()[0]
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("%s not gathered", name)
	return 0
}

func TestNewRefusesDoubleRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(reg, Sources{}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(reg, Sources{}); err == nil {
		t.Fatal("second New on one registry succeeded")
	}
}

// TestReceiverSeriesBounded: 250 receivers (callback hosts come from clients)
// make MaxReceivers series of their own, the busiest, and one "other" with the
// sums of the rest; 100 or fewer are reported as they are.
func TestReceiverSeriesBounded(t *testing.T) {
	var rcv []push.ReceiverStats
	for i := range 250 {
		// Receiver i has i pushes in flight: 150–249 are the busiest.
		rcv = append(rcv, push.ReceiverStats{Key: fmt.Sprintf("https://r%03d.example", i), Limit: 2, InFlight: i, Waiting: 1})
	}
	reg := prometheus.NewRegistry()
	if _, err := New(reg, Sources{Receivers: func() []push.ReceiverStats { return slices.Clone(rcv) }}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if len(mf.Metric) != MaxReceivers+1 {
			t.Errorf("%s: %d series, want %d", mf.GetName(), len(mf.Metric), MaxReceivers+1)
		}
		for _, m := range mf.Metric {
			key := m.Label[0].GetValue()
			v := m.GetGauge().GetValue()
			switch {
			case key == OtherReceivers:
				// receivers 0–149: limits 2 each, in flight 0+…+149, waiting 1 each
				want := map[string]float64{"ccgw_push_receiver_limit": 300, "ccgw_push_receiver_in_flight": 149 * 150 / 2, "ccgw_push_receiver_waiting": 150}[mf.GetName()]
				if v != want {
					t.Errorf("%s{receiver=other} = %v, want %v", mf.GetName(), v, want)
				}
			case key < "https://r150.example":
				t.Errorf("%s: %s has a series of its own, but 100 are busier", mf.GetName(), key)
			}
		}
	}
	small := rcv[:3]
	if got := topReceivers(slices.Clone(small), MaxReceivers); !slices.Equal(got, small) {
		t.Errorf("3 receivers reported as %v", got)
	}
}

// TestBuildInfoAndReady: ccgw_build_info carries the build's labels with value
// 1, and ccgw_ready follows Sources.Ready at each scrape.
func TestBuildInfoAndReady(t *testing.T) {
	reg := prometheus.NewRegistry()
	ready := true
	_, err := New(reg, Sources{Ready: func() bool { return ready },
		Build: BuildInfo{Version: "v1.2.3", Commit: "0123abc-modified", GoVersion: "go1.26.8"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP ccgw_build_info Always 1; the labels say which build of ccgw runs.
# TYPE ccgw_build_info gauge
ccgw_build_info{commit="0123abc-modified",goversion="go1.26.8",version="v1.2.3"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ccgw_build_info"); err != nil {
		t.Fatal(err)
	}
	if got := gathered(t, reg, "ccgw_ready"); got != 1 {
		t.Errorf("ccgw_ready = %v while ready, want 1", got)
	}
	ready = false
	if got := gathered(t, reg, "ccgw_ready"); got != 0 {
		t.Errorf("ccgw_ready = %v while not ready, want 0", got)
	}

	bare := prometheus.NewRegistry()
	if _, err := New(bare, Sources{}); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(bare, "ccgw_build_info", "ccgw_ready"); err != nil || n != 0 {
		t.Errorf("without Build and Ready: %d series (%v), want none", n, err)
	}
}

// TestStoreWideSeriesGapWhileNotReady: while the store is not ready (Redis
// unreachable) or its figures could not be read (Partial), the store-wide
// series are left out of the scrape, so that Prometheus sees a gap instead of
// counters dropping to 0 (which it would take for a reset, and rate() for a
// burst when they come back); this node's own counters stay.
func TestStoreWideSeriesGapWhileNotReady(t *testing.T) {
	storeWide := []string{"ccgw_sessions_live", "ccgw_signins_total", "ccgw_signouts_total", "ccgw_expiries_total",
		"ccgw_events_queued_total", "ccgw_events_dropped_total"}
	own := []string{"ccgw_heartbeats_total", "ccgw_polls_total", "ccgw_events_delivered_total"}
	for _, tc := range []struct {
		name    string
		ready   bool
		partial bool
		want    bool // whether the store-wide series are there
	}{
		{"ready", true, false, true},
		{"not ready", false, true, false},
		{"ready but unread", true, true, false},
		{"not ready, figures from memory", false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := session.Stats{Partial: tc.partial, Heartbeats: 3, Polls: 2, Polled: 1}
			if !tc.partial {
				st.Live, st.SignIns = 5, 9
			}
			reg := prometheus.NewRegistry()
			_, err := New(reg, Sources{Sessions: func() session.Stats { return st }, Ready: func() bool { return tc.ready }})
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range storeWide {
				n, err := testutil.GatherAndCount(reg, name)
				if err != nil {
					t.Fatal(err)
				}
				if got := n > 0; got != tc.want {
					t.Errorf("%s: %d series, want them there: %v", name, n, tc.want)
				}
			}
			for _, name := range own {
				if n, err := testutil.GatherAndCount(reg, name); err != nil || n == 0 {
					t.Errorf("%s: %d series (%v), want this node's counter whatever the store", name, n, err)
				}
			}
			if got := gathered(t, reg, "ccgw_heartbeats_total"); got != 3 {
				t.Errorf("ccgw_heartbeats_total = %v, want 3", got)
			}
		})
	}
}

// TestSignOutLag: the sessions' sign-out lag is exported as the histogram
// ccgw_signout_lag_seconds, bucket for bucket, and only where the backend
// measures it.
func TestSignOutLag(t *testing.T) {
	lag := &session.Histogram{Bounds: []float64{1, 3, 10}, Cumulative: []uint64{2, 5, 5}, Count: 6, Sum: 14.5}
	reg := prometheus.NewRegistry()
	if _, err := New(reg, Sources{Sessions: func() session.Stats { return session.Stats{SignOutLag: lag} }}); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP ccgw_signout_lag_seconds How long after its deadline a silent session was signed out (its store write done), on this node.
# TYPE ccgw_signout_lag_seconds histogram
ccgw_signout_lag_seconds_bucket{le="1"} 2
ccgw_signout_lag_seconds_bucket{le="3"} 5
ccgw_signout_lag_seconds_bucket{le="10"} 5
ccgw_signout_lag_seconds_bucket{le="+Inf"} 6
ccgw_signout_lag_seconds_sum 14.5
ccgw_signout_lag_seconds_count 6
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ccgw_signout_lag_seconds"); err != nil {
		t.Fatal(err)
	}

	reg = prometheus.NewRegistry()
	if _, err := New(reg, Sources{Sessions: func() session.Stats { return session.Stats{} }}); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "ccgw_signout_lag_seconds"); err != nil || n != 0 {
		t.Fatalf("%d lag series without a measuring backend (%v), want none", n, err)
	}
}
