package api_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// TestStreamFraming: the stream starts with its retry line and a comment,
// then the journal's newest events (all of them, fewer than the backlog), one
// "id:" line, one "data:" line of the event's JSON and an empty line each,
// ids counting up; an event made while it is open comes at once.
func TestStreamFraming(t *testing.T) {
	ls := lvNewServer(t, simConfig{})
	g := ls.mustLogin(t, "1001")
	last := ls.journal.Last()
	if last == 0 {
		t.Fatal("a sign-in journaled no event")
	}
	s := ls.lvOpenStream(t, "", nil)
	if s.resp.StatusCode != http.StatusOK || s.resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" ||
		s.resp.Header.Get("Cache-Control") != "no-store" || s.resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("HTTP %d, headers %v", s.resp.StatusCode, s.resp.Header)
	}
	if l := s.next(t); l != "retry: 2000" {
		t.Fatalf("first line %q", l)
	}
	if l := s.next(t); !strings.HasPrefix(l, ": ") {
		t.Fatalf("second line %q, want a comment", l)
	}
	for n := uint64(1); n <= last; n++ {
		e := s.nextEvent(t)
		if e.id != strconv.FormatUint(n, 10) || e.ev.WorkNo != "1001" {
			t.Fatalf("event %d: id %s %+v", n, e.id, e.ev)
		}
	}
	mustCode(t, ls.do(t, http.MethodPost, base+"/onlineagent/1001/saybusy", guidHdr(g), ""), "0")
	e := s.nextEvent(t)
	if e.id != strconv.FormatUint(last+1, 10) || e.ev.Type != ccgw.EvSetNotReadySuccess {
		t.Fatalf("live event: id %s %+v, want %d %s", e.id, e.ev, last+1, ccgw.EvSetNotReadySuccess)
	}
}

// TestStreamStart: Last-Event-ID (an EventSource reconnecting) wins over
// ?after=, which wins over the backlog of the 100 newest; either, if not a
// 64-bit unsigned number, is 000-002 in the envelope.
func TestStreamStart(t *testing.T) {
	ls := lvNewServer(t, simConfig{})
	for i := range 60 { // 2 events a sign-in: 120 events, more than the backlog
		id := strconv.Itoa(1001 + i)
		ls.mustSignIn(t, pathLogin, id, `{"password":"p","phonenum":"7`+id+`"}`)
	}
	last := ls.journal.Last()
	if last <= 100 {
		t.Fatalf("only %d events", last)
	}
	for _, tc := range []struct {
		query string
		h     hdr
		first uint64
	}{
		{"", nil, last - 99},
		{"?after=7", nil, 8},
		{"?after=7", hdr{"Last-Event-ID": "42"}, 43},
		{"", hdr{"Last-Event-ID": "0"}, 1},
	} {
		s := ls.lvOpenStream(t, tc.query, tc.h)
		if e := s.nextEvent(t); e.id != strconv.FormatUint(tc.first, 10) {
			t.Errorf("%s %v: first event %s, want %d", tc.query, tc.h, e.id, tc.first)
		}
		s.close()
	}
	for _, tc := range []struct {
		query string
		h     hdr
	}{{"?after=x", nil}, {"?after=-1", nil}, {"?after=18446744073709551616", nil}, {"", hdr{"Last-Event-ID": "x"}}} {
		lvMust(t, tc.query, ls.lvAdmin(t, http.MethodGet, "stream"+tc.query, tc.h, ""), http.StatusOK, "000-002")
	}
}

// TestStreamPing: an idle stream sends a comment line every Admin.StreamPing.
func TestStreamPing(t *testing.T) {
	ls := lvNewServer(t, simConfig{ping: 20 * time.Millisecond})
	s := ls.lvOpenStream(t, "", nil)
	for range 3 {
		for l := s.next(t); l != ": ping"; l = s.next(t) {
			if l != "" && !strings.HasPrefix(l, ": ") && !strings.HasPrefix(l, "retry: ") {
				t.Fatalf("idle stream sent %q", l)
			}
		}
	}
}

// TestStreamCap: beyond Admin.MaxStreams open at once a stream is HTTP 429,
// Retry-After and 000-007, counted in Refused; a place given back (the client
// went) is taken again.
func TestStreamCap(t *testing.T) {
	ls := lvNewServer(t, simConfig{maxStreams: 2})
	a := ls.lvOpenStream(t, "", nil)
	b := ls.lvOpenStream(t, "", nil)
	a.next(t) // both are being served
	b.next(t)
	r := ls.lvAdmin(t, http.MethodGet, "stream", nil, "")
	lvMust(t, "third stream", r, http.StatusTooManyRequests, "000-007")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if n := ls.handler.Refused().Streams; n != 1 {
		t.Errorf("Refused().Streams = %d, want 1", n)
	}
	a.close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := ls.lvOpenStream(t, "", nil)
		if c.resp.StatusCode == http.StatusOK {
			break
		}
		c.close()
		if time.Now().After(deadline) {
			t.Fatal("the closed stream's place never came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStreamRefusesOtherOrigins: a browser request from another origin (even
// the same site) cannot hold a stream: HTTP 403, 000-003; same-origin and
// non-browser requests are served.
func TestStreamRefusesOtherOrigins(t *testing.T) {
	ls := lvNewServer(t, simConfig{})
	for _, site := range []string{"cross-site", "same-site"} {
		lvMust(t, site, ls.lvAdmin(t, http.MethodGet, "stream", hdr{"Sec-Fetch-Site": site}, ""), http.StatusForbidden, "000-003")
	}
	for _, h := range []hdr{nil, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}} {
		if s := ls.lvOpenStream(t, "", h); s.resp.StatusCode != http.StatusOK {
			t.Errorf("%v: HTTP %d", h, s.resp.StatusCode)
		}
	}
}
