package api

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
)

// TestHandShakeLogsNothingAndAllocatesNothing: at INFO (the default level) a
// heartbeat that goes well is counted in the tally but not logged, and neither
// adds an allocation: a heartbeat allocates no more with an INFO logger than
// with one that discards everything (the per-request line is DEBUG, and its
// attributes are built only when DEBUG is on), and counting allocates nothing.
func TestHandShakeLogsNothingAndAllocatesNothing(t *testing.T) {
	_, m, rq := benchGateway(t, 100)
	allocs := func(h *Server) float64 {
		benchCheck(t, h, rq)
		c := newBenchClient(rq, 0)
		return testing.AllocsPerRun(1000, func() {
			if !c.do(h) {
				t.Fatal("handshake failed")
			}
		})
	}
	lr := &levelRecorder{min: slog.LevelInfo}
	h := New(Config{Sessions: m, Directory: agent.Default(), Log: slog.New(lr)})
	atInfo := allocs(h)
	discarding := allocs(New(Config{Sessions: m, Directory: agent.Default(), Log: slog.New(slog.DiscardHandler)}))
	if atInfo != discarding {
		t.Errorf("a heartbeat allocates %v times with an INFO logger, %v with a discarding one; want the same", atInfo, discarding)
	}
	if got := lr.levels(); len(got) != 0 {
		t.Errorf("heartbeats logged %d lines at INFO, want none", len(got))
	}
	var hs uint64
	for _, rc := range h.TakeRequestCounts() {
		if rc.Method != "handShake" || rc.Code != ccgw.RetOK {
			t.Errorf("counted %+v, want handShake 0 only", rc)
		}
		hs += rc.N
	}
	if hs < 1000 {
		t.Errorf("tally counted %d heartbeats, want at least 1000", hs)
	}
	if n := testing.AllocsPerRun(1000, func() { h.tally.add("handShake", ccgw.RetOK) }); n != 0 {
		t.Errorf("counting a request allocates %v times, want 0", n)
	}
}

// TestRequestLogLevels: the per-request line is DEBUG, so it shows with
// --log-level debug and not at INFO.
func TestRequestLogLevels(t *testing.T) {
	_, m, rq := benchGateway(t, 3)
	lr := &levelRecorder{min: slog.LevelDebug}
	h := New(Config{Sessions: m, Directory: agent.Default(), Log: slog.New(lr)})
	c := newBenchClient(rq, 0)
	for range 3 {
		c.do(h)
	}
	if got := lr.levels(); !slices.Equal(got, []slog.Level{slog.LevelDebug, slog.LevelDebug, slog.LevelDebug}) {
		t.Errorf("three heartbeats logged at %v, want DEBUG each", got)
	}
}

// TestTallyCounts: requests are counted by method and retcode; an unknown
// method or retcode lands in "other" or 000-000; take zeroes the counts; no
// count is lost to concurrent adds.
func TestTallyCounts(t *testing.T) {
	ty := newTally([]string{"handShake", "login"})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				ty.add("handShake", ccgw.RetOK)
			}
		}()
	}
	ty.add("login", ccgw.RetBadPassword)
	ty.add("nosuch", ccgw.RetOK)
	ty.add("handShake", "999-999")
	wg.Wait()
	want := []RequestCount{
		{"handShake", ccgw.RetOK, 4000},
		{"handShake", ccgw.RetUnknown, 1},
		{"login", ccgw.RetBadPassword, 1},
		{otherMethod, ccgw.RetOK, 1},
	}
	if got := ty.take(); !slices.Equal(got, want) {
		t.Errorf("take() = %v\nwant %v", got, want)
	}
	if got := ty.take(); len(got) != 0 {
		t.Errorf("second take() = %v, want nothing", got)
	}
}

// levelRecorder is a slog.Handler enabled from min up that keeps each record's level.
type levelRecorder struct {
	min slog.Level
	mu  sync.Mutex // guards lv
	lv  []slog.Level
}

func (l *levelRecorder) Enabled(_ context.Context, lv slog.Level) bool { return lv >= l.min }

func (l *levelRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.lv = append(l.lv, r.Level)
	l.mu.Unlock()
	return nil
}

func (l *levelRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *levelRecorder) WithGroup(string) slog.Handler      { return l }

func (l *levelRecorder) levels() []slog.Level {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lv)
}
