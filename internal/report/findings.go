package report

import (
	"strings"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
)

// Code names a finding. Codes are stable: docs/client-report.md lists each, what
// triggers it, why it matters on the vendor's gateway and how to fix the client.
type Code string

// The finding codes.
const (
	StaleGUID         Code = "stale-guid"
	LateHeartbeat     Code = "late-heartbeat"
	Hammering         Code = "hammering"
	CallsAfterSignOut Code = "calls-after-signout"
	PollTooFast       Code = "poll-too-fast"
	WrongContentType  Code = "wrong-content-type"
	LegacyInterface   Code = "legacy-interface"
)

// Indexes of the codes in rules and in a client's findings.
const (
	iStale = iota
	iLate
	iHammer
	iAfterOut
	iPollFast
	iCType
	iLegacy
	numCodes
)

// The rules' thresholds.
const (
	// StaleGrace: a request that started this soon after an answer carrying
	// Set-GUID may have left the client before that answer arrived (another
	// thread, another connection), so presenting the old GUID is not held
	// against it.
	StaleGrace = time.Second
	// LateFraction: an interval between requests keeping a session alive of at
	// least this fraction (2/3) of the session timeout is late.
	lateNum, lateDen = 2, 3
	// VendorHeartbeat is the heartbeat interval the vendor recommends.
	VendorHeartbeat = 30 * time.Second
	// HammerWindow and HammerBurst: HammerBurst requests starting within
	// HammerWindow after an answer whose retcode was not "0" are hammering.
	HammerWindow = time.Second
	HammerBurst  = 5
	// PollMin is the shortest pause the vendor recommends between an empty
	// poll answer and the next poll (200 to 500 ms). A poll answered empty only
	// after being held at least this long is paused enough by the gateway.
	PollMin = 200 * time.Millisecond
)

// rule is what a finding code says, and how many occurrences raise it.
type rule struct {
	code        Code
	min         uint64 // occurrences before the finding is raised
	explanation string
	vendor      string
}

var rules = [numCodes]rule{
	iStale: {StaleGUID, 1,
		"The client keeps presenting a GUID that was superseded: it ignores the Set-GUID header with which the gateway hands out a new GUID on heartbeat and poll answers.",
		"In dynamic GUID mode (AUTHMODE 2) the gateway replaces the GUID every GUIDINTERVAL and accepts the superseded one for GUIDTIMEOUT only; after that every call with it is refused with 000-003 and the agent must sign in again."},
	iLate: {LateHeartbeat, 1,
		"The client leaves long gaps between the requests that keep its session alive: near or beyond the session timeout.",
		"The gateway signs out an agent that sends no request for the timeout (MAXTIME, EVENT_PUSH_HANDSHAKE_MAXTIME; 120 s by default) and tells it AgentOther_ShutdownService; a gap near it is lost to any network delay. The vendor recommends a heartbeat every 30 s."},
	iHammer: {Hammering, 1,
		"After an error answer the client calls again without pausing: 5 or more requests within 1 s.",
		"The gateway answers an error for a reason that a retry at once does not change (000-003, 100-006, 000-004 during a switchover); a client that retries in a tight loop loads the gateway and its own host and may be rate-limited or blocked. Back off: wait, then retry with a growing delay, or sign in again."},
	iAfterOut: {CallsAfterSignOut, 3,
		"The client keeps calling after the gateway told it the agent is not signed in (100-006).",
		"After 100-006 every call with that GUID is refused; the agent must sign in again (or the client stop). The gateway signs agents out on timeout, forced sign-in elsewhere, a supervisor's forced sign-out and failed pushes, and the client learns it from AgentOther_ShutdownService or 100-006."},
	iPollFast: {PollTooFast, 3,
		"After an empty poll answer the client polls again without the pause the vendor recommends (200 to 500 ms). Polling again at once after an event is correct, and is not counted.",
		"When the gateway answers an empty poll at once (AGENT_POLL_WAIT_FLAG off, or a short wait), a client that polls again without pausing sends hundreds of polls a second per agent. The vendor recommends polling getAgentEvent every 200 to 500 ms while no event comes."},
	iCType: {WrongContentType, 1,
		"The client sends a request body without Content-Type: application/json.",
		"The gateway's JSON interfaces consume application/json only; a body of another or no Content-Type may be refused (HTTP 415) or not read. ccgw reads it anyway."},
	iLegacy: {LegacyInterface, 1,
		"The client uses interfaces of older gateway releases: PUT …/heartbeat, or a sign-in with pushUrl.",
		"The current gateway (CEC) documents POST …/handshake as the heartbeat and callBackUri with serviceToken for event push; PUT …/heartbeat and pushUrl belong to older releases and may not be served by the one the client will meet."},
}

// finding is one code's record for one agent: fixed size.
type finding struct {
	count       uint64
	first, last int64    // unix ns of the first and the latest occurrence
	ev          [4]int64 // evidence, by code (evidence in view.go)
}

// client is what the report knows of one agent's client. Fixed size but for
// its journal ring and one copied Content-Type. The fields every request
// touches come first, in two cache lines; the findings, touched only when a
// rule fires, after them.
type client struct {
	mu       sync.Mutex // guards all below but id; held for memory work only
	requests uint64
	ring     []entry // the journal: up to Config.Journal entries
	next     uint64  // requests journaled
	seen     int64   // start (unix ns) of its latest request
	aliveEnd int64   // end of the last request that kept the session alive; 0: no session known
	winStart int64   // hammering: the error answer the current window follows; 0: none
	pending  uint64  // stale-guid: the GUID last sent in Set-GUID and not presented yet
	// poll-too-fast: end of the latest poll answered empty at once; 0: none.
	pollEmptyEnd int64
	lastEnd      int64        // hammering: the end of the latest answer, if it was an error
	lastCode     ccgw.Retcode // and its retcode
	id           ccgw.AgentID // never changes
	lastErr      bool         // hammering: the latest answer's retcode was not "0"
	push         bool         // signed in in push mode

	f [numCodes]finding

	// stale-guid: fingerprints of the GUIDs handed out since the sign-in.
	issued  [4]uint64
	nIssued uint32
	current uint64 // the GUID last handed out (sign-in or Set-GUID)
	toldAt  int64  // end of the first answer that sent pending

	// hammering
	winN       int          // requests started in the window
	winHit     bool         // the window was counted
	hammerCode ccgw.Retcode // the retcode the latest burst followed

	// calls-after-signout
	refusedAt int64 // end of the first 100-006 since the last sign-in; 0: none
	outAt     int64 // when the session ended (SignedOut); 0: unknown
	outCause  ccgw.SignOutCause

	ctype string // the first Content-Type of a non-JSON body (a copy)
}

// lastSeen returns c.seen, under c.mu.
func (c *client) lastSeen() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen
}

// Method names the rules know.
const (
	mHandShake = "handShake"
	mHeartBeat = "heartBeat"
	mPoll      = "getAgentEvent"
)

func isSignIn(method string) bool {
	return method == "login" || method == "forceLogin" || method == "loginEx"
}

func isSignOut(method string) bool {
	return method == "logout" || method == "forceLogout" || method == "forceLogoutWithReason"
}

// hit counts an occurrence of finding i at unix ns at, and returns its bit if
// that raised the finding.
func (c *client) hit(i int, at int64) uint16 {
	f := &c.f[i]
	f.count++
	if f.first == 0 {
		f.first = at
	}
	f.last = at
	if f.count == rules[i].min {
		return 1 << i
	}
	return 0
}

// observe applies every rule to q; c.mu must be held. It returns the bits of
// the findings q raised.
func (c *client) observe(q *Request, r *Report) (raised uint16) {
	start := q.Start.UnixNano()
	end := start + int64(q.Took)
	ok := q.Code == ccgw.RetOK
	signIn := isSignIn(q.Method)

	if q.Method == mHeartBeat {
		c.f[iLegacy].ev[0]++
		raised |= c.hit(iLegacy, start)
	}
	if q.PushURL {
		c.f[iLegacy].ev[1]++
		raised |= c.hit(iLegacy, start)
	}

	if q.Body && !q.JSON {
		if c.ctype == "" {
			c.ctype = "(none)"
			if q.ContentType != "" {
				c.ctype = strings.Clone(clip(q.ContentType))
			}
		}
		raised |= c.hit(iCType, start)
	}

	raised |= c.hammering(start, end, q.Code)
	raised |= c.late(q, start, end, r)
	raised |= c.afterSignOut(q, start, end, signIn, ok)
	raised |= c.stale(q, start, end, signIn, ok, r)

	if q.Method == mPoll {
		if c.pollEmptyEnd != 0 {
			if gap := start - c.pollEmptyEnd; gap >= 0 && gap < int64(PollMin) {
				f := &c.f[iPollFast]
				if f.count == 0 || gap < f.ev[0] {
					f.ev[0] = gap
				}
				f.ev[1] = gap
				raised |= c.hit(iPollFast, start)
			}
		}
		c.pollEmptyEnd = 0
		if q.EmptyPoll && q.Took < PollMin {
			c.pollEmptyEnd = end
		}
	}
	return raised
}

// hammering counts requests that start within HammerWindow after an error
// answer: HammerBurst of them are one burst.
func (c *client) hammering(start, end int64, code ccgw.Retcode) (raised uint16) {
	if c.lastErr {
		if c.winStart == 0 || start > c.winStart+int64(HammerWindow) {
			c.winStart, c.winN, c.winHit = c.lastEnd, 0, false
		}
		if start >= c.winStart && start-c.winStart <= int64(HammerWindow) {
			c.winN++
			f := &c.f[iHammer]
			if c.winN >= HammerBurst && !c.winHit {
				c.winHit = true
				c.hammerCode = c.lastCode
				raised |= c.hit(iHammer, start)
			}
			if c.winHit {
				f.ev[0] = int64(c.winN)
				f.ev[1] = start - c.winStart
			}
		}
	} else if c.winStart != 0 {
		c.winStart = 0
	}
	c.lastErr = code != ccgw.RetOK
	if c.lastErr {
		c.lastEnd, c.lastCode = end, code
	}
	return raised
}

// late judges the gap since the session was last kept alive against its
// timeout, and notes what this request did to the session.
func (c *client) late(q *Request, start, end int64, r *Report) (raised uint16) {
	signIn := isSignIn(q.Method)
	if !signIn && c.aliveEnd != 0 {
		timeout := r.cfg.PollTimeout
		if c.push {
			timeout = r.cfg.PushTimeout
		}
		if gap := start - c.aliveEnd; timeout > 0 && gap*lateDen >= int64(timeout)*lateNum {
			f := &c.f[iLate]
			f.ev[0] = max(f.ev[0], gap)
			f.ev[1] = gap
			f.ev[2] = int64(timeout)
			if gap >= int64(timeout) {
				f.ev[3]++
			}
			raised |= c.hit(iLate, start)
		}
	}
	switch ok := q.Code == ccgw.RetOK; {
	case signIn && ok:
		c.aliveEnd, c.push = end, q.Push
	case ok && isSignOut(q.Method), q.Code == ccgw.RetNotSignedIn:
		c.aliveEnd = 0
	case ok && end > c.aliveEnd:
		c.aliveEnd = end
	}
	return raised
}

// afterSignOut counts the calls answered 100-006 after the first since the
// last sign-in.
func (c *client) afterSignOut(q *Request, start, end int64, signIn, ok bool) (raised uint16) {
	switch {
	case signIn && ok:
		c.refusedAt = 0
	case !signIn && q.Code == ccgw.RetNotSignedIn:
		if c.refusedAt == 0 {
			c.refusedAt = end
			c.f[iAfterOut].ev[1] = 0
			return 0
		}
		f := &c.f[iAfterOut]
		f.ev[0] = c.refusedAt
		f.ev[1]++
		raised |= c.hit(iAfterOut, start)
	}
	return raised
}

// stale follows the GUIDs handed out: an answer that repeats a Set-GUID to a
// request sent after the client was first told, or a 000-003 for a GUID this
// sign-in was handed, is the client holding on to a superseded GUID.
func (c *client) stale(q *Request, start, end int64, signIn, ok bool, r *Report) (raised uint16) {
	switch {
	case signIn && ok && q.SetGUID != "":
		h := r.hash(q.SetGUID)
		c.issued, c.nIssued, c.current, c.pending = [4]uint64{h}, 1, h, 0
	case q.SetGUID != "":
		h := r.hash(q.SetGUID)
		if h != c.pending {
			c.pending, c.toldAt, c.current = h, end, h
			c.remember(h)
			c.remember(r.hash(q.GUID))
			return 0
		}
		if start > c.toldAt+int64(StaleGrace) {
			f := &c.f[iStale]
			f.ev[0] = c.toldAt
			f.ev[1]++
			raised |= c.hit(iStale, start)
		}
	case c.pending != 0 && ok && (q.Method == mHandShake || q.Method == mHeartBeat || q.Method == mPoll):
		c.pending = 0 // the client presented the current GUID
	case q.Code == ccgw.RetNoPermission && q.GUID != "":
		// The current GUID refused is no client's fault (a guid-expiry fault,
		// a forced sign-in elsewhere): only a superseded one counts.
		if h := r.hash(q.GUID); h != c.current && c.known(h) {
			f := &c.f[iStale]
			f.ev[2]++
			f.ev[3] = end
			raised |= c.hit(iStale, start)
		}
	}
	return raised
}

func (c *client) remember(h uint64) {
	if h == 0 || c.known(h) {
		return
	}
	c.issued[c.nIssued%uint32(len(c.issued))] = h
	c.nIssued++
}

func (c *client) known(h uint64) bool {
	n := min(int(c.nIssued), len(c.issued))
	for i := range n {
		if c.issued[i] == h {
			return true
		}
	}
	return false
}

// maxEcho bounds a client's value the report repeats.
const maxEcho = 64

func clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	return s[:maxEcho] + "…"
}
