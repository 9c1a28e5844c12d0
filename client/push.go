package client

import (
	"container/list"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
)

// SignatureHeader carries a push's signature when the gateway has a push
// secret (ccgw's --push-secret-env): "t=<unix ms>,v1=<hex HMAC-SHA256(secret,
// t + "." + body)>".
const SignatureHeader = ccgw.SignatureHeader

// Limits of PushHandler.
const (
	// MaxSignatureAge is how far a signature's time may be from the receiver's
	// clock, either way.
	MaxSignatureAge = 5 * time.Minute
	// MaxPushAgents is how many work numbers PushHandler remembers sequence
	// numbers for; beyond it, the one pushed to least recently is forgotten
	// (and a late duplicate of its pushes delivered again).
	MaxPushAgents = 1 << 16
	// maxPushBody bounds a push body.
	maxPushBody = 8 << 20
)

// PushHandler returns the handler of a callback receiver: the URL a push-mode
// sign-in names as CallBackURI (or PushURL). It takes both bodies the gateway
// pushes — {"workNo", "eventList"} and, for PushURL sign-ins, the older
// {"message", "retcode", "event"} with one event — and calls deliver with the
// work number and its events, oldest first, each with its sequence number (0
// if the push has no X-CCGW-Seq).
//
// If secret is not empty, a push must carry a valid X-CCGW-Signature whose
// time is within MaxSignatureAge of now; the comparison is in constant time.
//
// Pushes are at least once: the gateway sends again what it is not sure was
// taken. For each work number the handler keeps the highest sequence number
// delivered and drops events at or below it (a push that holds only such
// events is answered as a success and deliver is not called). A push starting
// at sequence number 1 begins a new sign-in's numbering, unless it carries the
// Guid header of the push that began the current one (then it is that push
// again). Sequence numbers are kept for at most MaxPushAgents work numbers.
//
// The answer is HTTP 200 with {"message":"success","retcode":"0"} when the
// events were delivered (or were all duplicates), and HTTP 200 with another
// retcode when the push is refused, which makes the gateway retry it:
// 000-002 a malformed push, 000-003 a missing, wrong or stale signature,
// 000-007 a push for a work number whose previous push deliver has not
// returned from, 100-007 deliver returned an error. deliver may be called
// concurrently for different work numbers, never for the same one.
func PushHandler(secret []byte, deliver func(workNo string, evs []Event) error) http.Handler {
	return newPushHandler(secret, deliver, realClock{}, MaxPushAgents)
}

// pushHandler is PushHandler's handler.
type pushHandler struct {
	secret  []byte
	deliver func(string, []Event) error
	clock   Clock
	max     int

	mu     sync.Mutex // guards agents, lru, busy; never held across deliver
	agents map[string]*list.Element
	lru    *list.List // of *pushRecord, most recently pushed first
	busy   map[string]bool
}

// pushRecord is what the handler remembers of one work number.
type pushRecord struct {
	workNo string
	seq    uint64 // the highest sequence number delivered
	first  string // Guid header of the push with sequence number 1 of this numbering
}

func newPushHandler(secret []byte, deliver func(string, []Event) error, clk Clock, max int) *pushHandler {
	return &pushHandler{
		secret: append([]byte(nil), secret...), deliver: deliver, clock: clk, max: max,
		agents: map[string]*list.Element{}, lru: list.New(), busy: map[string]bool{},
	}
}

// pushBody is either body the gateway pushes.
type pushBody struct {
	WorkNo    text            `json:"workNo"`
	EventList []wireEvent     `json:"eventList"`
	Event     json.RawMessage `json:"event"` // the older envelope
}

func (h *pushHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code, msg := h.serve(r)
	body, _ := json.Marshal(struct {
		Message string  `json:"message"`
		Retcode Retcode `json:"retcode"`
	}{msg, code})
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// serve handles one push and returns the retcode and message to answer.
func (h *pushHandler) serve(r *http.Request) (Retcode, string) {
	if r.Method != http.MethodPost {
		return ccgw.RetBadParam, "a push is a POST"
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxPushBody+1))
	if err != nil || len(b) > maxPushBody {
		return ccgw.RetBadParam, "body unreadable or too large"
	}
	if len(h.secret) > 0 {
		if err := verify(h.secret, b, r.Header.Get(SignatureHeader), h.clock.Now()); err != nil {
			return ccgw.RetNoPermission, err.Error()
		}
	}
	workNo, evs, err := parsePush(b)
	if err != nil {
		return ccgw.RetBadParam, err.Error()
	}
	seq, _ := strconv.ParseUint(r.Header.Get(SeqHeader), 10, 64)
	if seq > 0 {
		for i := range evs {
			evs[i].Seq = seq + uint64(i)
		}
	}
	guid := parseGUID(r.Header.Get("Guid"))

	h.mu.Lock()
	if h.busy[workNo] {
		h.mu.Unlock()
		return ccgw.RetRepeated, "a push for this agent is being delivered"
	}
	skip, fresh := h.skipLocked(workNo, seq, guid, len(evs))
	if skip >= len(evs) {
		if e := h.agents[workNo]; e != nil {
			h.lru.MoveToFront(e)
		}
		h.mu.Unlock()
		return ccgw.RetOK, "success"
	}
	h.busy[workNo] = true
	h.mu.Unlock()

	err = h.deliver(workNo, evs[skip:])

	h.mu.Lock()
	delete(h.busy, workNo)
	if err == nil && seq > 0 {
		h.recordLocked(workNo, seq+uint64(len(evs))-1, guid, fresh)
	}
	h.mu.Unlock()
	if err != nil {
		return ccgw.RetInternal, "delivery failed"
	}
	return ccgw.RetOK, "success"
}

// skipLocked returns how many of a push's n events, the first numbered seq,
// were delivered before, and whether the push begins a new numbering; h.mu
// must be held.
func (h *pushHandler) skipLocked(workNo string, seq uint64, guid string, n int) (skip int, fresh bool) {
	e := h.agents[workNo]
	if seq == 0 || n == 0 {
		return 0, false
	}
	if e == nil {
		return 0, seq == 1
	}
	rec := e.Value.(*pushRecord)
	if seq == 1 && (guid == "" || guid != rec.first) {
		return 0, true // a new sign-in
	}
	if rec.seq < seq {
		return 0, false
	}
	return int(min(rec.seq-seq+1, uint64(n))), false
}

// recordLocked notes that workNo's events up to seq were delivered; h.mu must
// be held.
func (h *pushHandler) recordLocked(workNo string, seq uint64, guid string, fresh bool) {
	e := h.agents[workNo]
	if e == nil {
		rec := &pushRecord{workNo: workNo}
		e = h.lru.PushFront(rec)
		h.agents[workNo] = e
		for h.lru.Len() > h.max {
			old := h.lru.Back()
			h.lru.Remove(old)
			delete(h.agents, old.Value.(*pushRecord).workNo)
		}
	} else {
		h.lru.MoveToFront(e)
	}
	rec := e.Value.(*pushRecord)
	if fresh {
		rec.seq, rec.first = seq, guid
	} else if seq > rec.seq {
		rec.seq = seq
	}
}

// parsePush decodes either push body into its work number and events.
func parsePush(b []byte) (string, []Event, error) {
	var p pushBody
	if err := json.Unmarshal(b, &p); err != nil {
		return "", nil, errors.New("body is not a push: " + err.Error())
	}
	if p.EventList == nil && len(p.Event) > 0 && string(p.Event) != "null" {
		var w wireEvent
		if err := json.Unmarshal(p.Event, &w); err != nil {
			return "", nil, errors.New("event: " + err.Error())
		}
		if w.WorkNo.s == "" || w.Type.s == "" {
			return "", nil, errors.New("event without workNo or eventType")
		}
		return w.WorkNo.s, []Event{w.event(0)}, nil
	}
	if p.WorkNo.s == "" || p.EventList == nil {
		return "", nil, errors.New("body without workNo and eventList, or event")
	}
	evs := make([]Event, len(p.EventList))
	for i, w := range p.EventList {
		if w.Type.s == "" {
			return "", nil, errors.New("event without eventType")
		}
		evs[i] = w.event(0)
		if evs[i].WorkNo == "" {
			evs[i].WorkNo = p.WorkNo.s
		}
	}
	return p.WorkNo.s, evs, nil
}

// verify checks a SignatureHeader value for body against secret at now: a
// time t within MaxSignatureAge of now and a v1 equal to HMAC-SHA256(secret,
// t + "." + body). Several v1 values are allowed (one per secret while the
// sender changes secrets); one must match.
func verify(secret, body []byte, header string, now time.Time) error {
	if header == "" {
		return errors.New("no signature")
	}
	var t string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			t = v
		case "v1":
			if s, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, s)
			}
		}
	}
	ms, err := strconv.ParseInt(t, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("malformed signature")
	}
	if age := now.Sub(time.UnixMilli(ms)); age > MaxSignatureAge || age < -MaxSignatureAge {
		return errors.New("signature time too far from now")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(t))
	mac.Write([]byte("."))
	mac.Write(body)
	want := mac.Sum(nil)
	ok := false
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			ok = true
		}
	}
	if !ok {
		return errors.New("wrong signature")
	}
	return nil
}
