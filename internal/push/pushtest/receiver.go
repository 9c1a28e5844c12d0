// Package pushtest is a push receiver for tests: a real HTTP server on loopback
// that records every push it gets, answers as the test says, and can hold an
// agent's pushes until released.
package pushtest

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// Path is the reference callback path of the vendor's documents.
const Path = "/service-cloud/rest/cc-ai/v1/agentevent/pushresult"

// Answer is the receiver's reply to one push; OK says whether the test means it
// as an acceptance.
type Answer struct {
	Status int
	Body   string
	OK     bool
}

// Answers the tests use.
var (
	OK      = Answer{200, `{"message":"success","retcode":"0"}`, true}
	Fail500 = Answer{500, `internal error`, false}
	FailRet = Answer{200, `{"message":"agent not signed in","retcode":"100-007"}`, false}
	// Fail503JS is a 503 whose body says success: a failure all the same.
	Fail503JS = Answer{503, `{"retcode":"0"}`, false}
)

// Always answers every push with a.
func Always(a Answer) func(int, Push) Answer { return func(int, Push) Answer { return a } }

// Push is one request the receiver got. Its events carry their Seq, rebuilt
// from ccgw.SeqHeader (the first event's; the others follow one by one).
type Push struct {
	Header http.Header
	Method string
	Path   string
	Raw    []byte
	WorkNo string
	Events []ccgw.Event
	Done   bool // answered
	OK     bool // answered with an acceptance
}

// Seqs returns the events' sequence numbers.
func (p Push) Seqs() []uint64 {
	out := make([]uint64, len(p.Events))
	for i, ev := range p.Events {
		out[i] = ev.Seq
	}
	return out
}

// Types returns the events' types.
func (p Push) Types() []string {
	out := make([]string, len(p.Events))
	for i, ev := range p.Events {
		out[i] = ev.Type
	}
	return out
}

// Receiver is a push receiver on loopback.
type Receiver struct {
	srv    *httptest.Server
	answer func(n int, p Push) Answer
	quit   chan struct{} // closed at cleanup: held and blocked answers give up
	stop   func()        // closes quit once

	mu      sync.Mutex // guards all below
	pushes  []Push
	held    map[string]chan struct{}
	busy    map[string]int
	overlap int // requests that arrived while the same agent had one in flight
}

// New starts a Receiver on ln, or on a new loopback listener if ln is nil.
// answer decides each reply (n counts every request from 1) and may block, on
// a channel the test closes or on Quit; nil accepts every push. At cleanup the
// held and blocked answers are let go first, then the server closes.
func New(tb testing.TB, answer func(n int, p Push) Answer, ln net.Listener) *Receiver {
	tb.Helper()
	if answer == nil {
		answer = Always(OK)
	}
	r := &Receiver{answer: answer, quit: make(chan struct{}), held: map[string]chan struct{}{}, busy: map[string]int{}}
	r.stop = sync.OnceFunc(func() { close(r.quit) })
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	if ln != nil {
		r.srv.Listener.Close()
		r.srv.Listener = ln
	}
	r.srv.Start()
	tb.Cleanup(r.srv.Close)
	tb.Cleanup(r.stop) // runs first
	return r
}

// URL is the receiver's callback URL (Path on it).
func (r *Receiver) URL() string { return r.srv.URL + Path }

// Server is the receiver's HTTP server.
func (r *Receiver) Server() *httptest.Server { return r.srv }

// Quit is closed when the test ends; a blocking answer should give up on it.
func (r *Receiver) Quit() <-chan struct{} { return r.quit }

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	raw, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p := Push{Header: req.Header.Clone(), Method: req.Method, Path: req.URL.Path, Raw: raw}
	var body struct {
		WorkNo    string       `json:"workNo"`
		EventList []ccgw.Event `json:"eventList"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p.WorkNo, p.Events = body.WorkNo, body.EventList
	if len(p.Events) > 0 {
		first, err := strconv.ParseUint(req.Header.Get(ccgw.SeqHeader), 10, 64)
		if err != nil {
			http.Error(w, "bad "+ccgw.SeqHeader, http.StatusBadRequest)
			return
		}
		for i := range p.Events {
			p.Events[i].Seq = first + uint64(i)
		}
	}
	r.mu.Lock()
	if r.busy[p.WorkNo] > 0 {
		r.overlap++
	}
	r.busy[p.WorkNo]++
	r.pushes = append(r.pushes, p)
	n := len(r.pushes)
	gate := r.held[p.WorkNo]
	r.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.quit:
		}
	}

	a := r.answer(n, p)

	r.mu.Lock()
	r.busy[p.WorkNo]--
	r.pushes[n-1].Done, r.pushes[n-1].OK = true, a.OK
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(a.Status)
	io.WriteString(w, a.Body)
}

// Hold makes workNo's pushes wait, unanswered, until Release.
func (r *Receiver) Hold(workNo string) {
	r.mu.Lock()
	r.held[workNo] = make(chan struct{})
	r.mu.Unlock()
}

// Release answers workNo's held pushes and stops holding new ones.
func (r *Receiver) Release(workNo string) {
	r.mu.Lock()
	if g := r.held[workNo]; g != nil {
		close(g)
		delete(r.held, workNo)
	}
	r.mu.Unlock()
}

// ReleaseAll lets every held or blocked answer go and stops holding (it closes
// Quit); cleanup calls it too. A test calls it early to unblock a pusher it is
// about to close.
func (r *Receiver) ReleaseAll() { r.stop() }

// All returns a copy of every push so far, in arrival order.
func (r *Receiver) All() []Push {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.pushes)
}

// Of returns agent workNo's pushes, in arrival order.
func (r *Receiver) Of(workNo string) []Push {
	var out []Push
	for _, p := range r.All() {
		if p.WorkNo == workNo {
			out = append(out, p)
		}
	}
	return out
}

// Count returns how many pushes arrived.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pushes)
}

// Answered reports whether at least n pushes arrived, all answered.
func (r *Receiver) Answered(n int) bool { return answered(r.All(), n) }

// AnsweredOf reports whether workNo has at least n pushes, all answered.
func (r *Receiver) AnsweredOf(workNo string, n int) bool { return answered(r.Of(workNo), n) }

func answered(ps []Push, n int) bool {
	if len(ps) < n {
		return false
	}
	for _, p := range ps {
		if !p.Done {
			return false
		}
	}
	return true
}

// Accepted returns workNo's events in accepted pushes, in order.
func (r *Receiver) Accepted(workNo string) []ccgw.Event {
	var out []ccgw.Event
	for _, p := range r.Of(workNo) {
		if p.OK {
			out = append(out, p.Events...)
		}
	}
	return out
}

// Overlaps returns how many pushes arrived while the same agent had one
// unanswered: a pusher that keeps one push in flight per agent makes none.
func (r *Receiver) Overlaps() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.overlap
}

// WaitFor polls cond until it holds, failing tb after 10 s: the one real-time
// wait of push tests, for an HTTP exchange on loopback to happen.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
