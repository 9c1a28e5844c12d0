package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/sim"
)

// GET /ccgw/v1/stream: the event journal as server-sent events
// (text/event-stream), for the web console and anyone who wants to watch.

// Defaults and limits of the event stream (Admin's fields).
const (
	// DefaultMaxStreams caps the streams open at once; one more is HTTP 429
	// and 000-007.
	DefaultMaxStreams = 16
	// DefaultStreamPing is how often an idle stream sends a comment line, so
	// that proxies and the client see it alive.
	DefaultStreamPing = 15 * time.Second
	// StreamBacklog is how many of the newest events a stream starts with when
	// neither Last-Event-ID nor ?after= says where.
	StreamBacklog = 100
	// streamBatch is the most events one read of the journal takes.
	streamBatch = 500
	// streamRetry is the reconnection delay a stream tells its client (ms).
	streamRetry = 2000
)

// stream answers GET /ccgw/v1/stream: after the event numbered Last-Event-ID
// (an EventSource's reconnection), else ?after=, else the StreamBacklog newest,
// every journal event as it is made, one "id:" and one "data:" line (the event
// as JSON, as GET /ccgw/v1/events has it) each, and a comment line when idle
// for Admin.StreamPing. It ends when the client goes or the server shuts down
// (the request's context). A cross-origin browser request (Sec-Fetch-Site
// other than same-origin or none) is HTTP 403 and 000-003: a page of another
// origin, which could not read the stream, cannot hold one of its places
// either. Beyond Admin.MaxStreams open at once: HTTP 429, Retry-After and
// 000-007.
func (s *Server) stream(c *call, a *Admin) reply {
	if site := c.r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return reply{code: ccgw.RetNoPermission, status: http.StatusForbidden}
	}
	after, okA := streamStart(c.r, a.Journal)
	if !okA {
		return fail(ccgw.RetBadParam)
	}
	limit := a.MaxStreams
	if limit <= 0 {
		limit = DefaultMaxStreams
	}
	if s.streams.Add(1) > int64(limit) {
		s.streams.Add(-1)
		s.refusedStreams.Add(1)
		return reply{code: ccgw.RetRepeated, status: http.StatusTooManyRequests, retryAfter: 5}
	}
	ctx := c.r.Context()
	return reply{code: ccgw.RetOK, stream: func(w http.ResponseWriter) {
		defer s.streams.Add(-1)
		s.follow(ctx, w, a, after)
	}}
}

// streamStart returns the number of the event a stream starts after, and
// false for a Last-Event-ID or ?after= that is no 64-bit unsigned number.
func streamStart(r *http.Request, j *sim.Journal) (uint64, bool) {
	v := strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if v == "" {
		v = r.URL.Query().Get("after")
	}
	if v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		return n, err == nil
	}
	last := j.Last()
	return last - min(last, StreamBacklog), true
}

// follow writes the stream until ctx ends or a write fails. Each write has its
// own deadline (Config.WriteTimeout, else streamWriteTimeout): a client that
// stops reading is cut off, and shutting down never waits on it for longer.
func (s *Server) follow(ctx context.Context, w http.ResponseWriter, a *Admin, after uint64) {
	ping := a.StreamPing
	if ping <= 0 {
		ping = DefaultStreamPing
	}
	wt := s.cfg.WriteTimeout
	if wt <= 0 {
		wt = streamWriteTimeout
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("X-Accel-Buffering", "no") // a reverse proxy must pass each event on at once
	rc := http.NewResponseController(w)
	// The server reads on in the background only to see the client go: no
	// read deadline, or --read-timeout would end the stream. Errors mean a
	// writer without deadlines (a test's recorder).
	_ = rc.SetReadDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)
	buf := []byte("retry: " + strconv.Itoa(streamRetry) + "\n: ccgw event stream\n\n")
	for {
		wake := a.Journal.Changed() // before reading: an event added meanwhile wakes the wait
		evs, last := a.Journal.Since(after, streamBatch)
		first := last - uint64(len(evs)) + 1
		for i := range evs {
			buf = appendStreamEvent(buf, first+uint64(i), &evs[i])
		}
		after = last
		if len(buf) > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(wt)) // the network's deadline: real time
			if _, err := w.Write(buf); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			buf = buf[:0]
		}
		if len(evs) == streamBatch {
			continue // more are waiting
		}
		t := s.cfg.WallClock.NewTimer(ping)
		select {
		case <-wake:
		case <-t.C():
			buf = append(buf, ": ping\n\n"...)
		case <-ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
	}
}

// appendStreamEvent appends event n's lines: "id: n" and "data: <JSON>". The
// JSON is one line (encoding/json writes no raw line break, in strings or
// out); a CR or LF would still be written as a space, whitespace in JSON, so
// that nothing a client sent can end the data line or add a field. An event
// that cannot be encoded (content that is not JSON) is a comment line.
func appendStreamEvent(buf []byte, n uint64, ev *ccgw.Event) []byte {
	b, err := json.Marshal(ev)
	if err != nil {
		buf = append(buf, ": event "...)
		buf = strconv.AppendUint(buf, n, 10)
		return append(buf, " could not be encoded\n\n"...)
	}
	buf = append(buf, "id: "...)
	buf = strconv.AppendUint(buf, n, 10)
	buf = append(buf, "\ndata: "...)
	for _, c := range b {
		if c == '\n' || c == '\r' {
			c = ' '
		}
		buf = append(buf, c)
	}
	return append(buf, "\n\n"...)
}
