package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/api"
)

// summary logs one INFO line per interval (--log-summary-interval) of what the
// gateway did in it, in place of a line per request (those are DEBUG):
//
//	msg=summary interval=1m0s requests=14012 retcodes.handShake.0=13990 retcodes.login.0=11 ...
//	  heartbeats=13990 polls=0 signins=11 signouts.logout=11
//
// requests and retcodes count this node's interface and admin requests by
// method and retcode (health checks and /metrics aside); heartbeats and polls
// are this node's; signins and signouts (by cause) are the store's, so
// cluster-wide on Redis, and left out of a line whose interval started or
// ended with the store unreadable.
type summary struct {
	log      *slog.Logger
	clock    ccgw.Clock
	every    time.Duration
	requests func() []api.RequestCount // counts since the last call, reset by it
	stats    func(context.Context) ccgw.SessionStats

	last ccgw.SessionStats // at the start of the current interval
}

// run logs a summary every s.every until ctx ends; it returns when ctx ends.
func (s *summary) run(ctx context.Context) {
	s.last = s.stats(ctx)
	s.requests() // start counting afresh
	for {
		t := s.clock.NewTimer(s.every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
			s.tick(ctx)
		}
	}
}

// tick logs the line for the interval that ends now and starts the next.
func (s *summary) tick(ctx context.Context) {
	now := s.stats(ctx)
	s.log.LogAttrs(ctx, slog.LevelInfo, "summary", summarize(s.every, s.requests(), s.last, now)...)
	s.last = now
}

// summarize returns the attributes of a summary line for an interval of length
// every, with the request counts rc taken at its end and the session stats at
// its start (prev) and end (cur).
func summarize(every time.Duration, rc []api.RequestCount, prev, cur ccgw.SessionStats) []slog.Attr {
	var total uint64
	var byMethod []slog.Attr // a group per method, of a count per retcode
	for i := 0; i < len(rc); {
		j := i
		var codes []any
		for ; j < len(rc) && rc[j].Method == rc[i].Method; j++ {
			codes = append(codes, slog.Uint64(string(rc[j].Code), rc[j].N))
			total += rc[j].N
		}
		byMethod = append(byMethod, slog.Group(rc[i].Method, codes...))
		i = j
	}
	attrs := []slog.Attr{
		slog.Duration("interval", every),
		slog.Uint64("requests", total),
		{Key: "retcodes", Value: slog.GroupValue(byMethod...)},
		slog.Uint64("heartbeats", delta(prev.Heartbeats, cur.Heartbeats)),
		slog.Uint64("polls", delta(prev.Polls, cur.Polls)),
	}
	if prev.Partial || cur.Partial {
		return attrs
	}
	var outs []any
	for _, c := range []ccgw.SignOutCause{ccgw.CauseLogout, ccgw.CauseForceLogout, ccgw.CauseReplaced, ccgw.CauseTimeout, ccgw.CauseSupervisor, ccgw.CausePushFailed} {
		if n := delta(prev.SignOuts[c], cur.SignOuts[c]); n > 0 {
			outs = append(outs, slog.Uint64(string(c), n))
		}
	}
	return append(attrs,
		slog.Uint64("signins", delta(prev.SignIns, cur.SignIns)),
		slog.Group("signouts", outs...),
	)
}

// delta returns how much a counter grew from prev to cur: cur itself if it
// went down (a reset, say a Redis flushed).
func delta(prev, cur uint64) uint64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}
