package api

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/ccgw/ccgw"
)

// reply is what a handler returns; write turns every reply into the response.
type reply struct {
	code    ccgw.Retcode
	result  any  // nil: no result field
	poll    bool // the getAgentEvent envelope: an event field, left out when none
	event   *ccgw.Event
	quiet   bool   // success message "" instead of "success" (sign-in, poll)
	setGUID string // sent as Set-GUID: JSESSIONID=<guid>
	guidHdr bool   // also send Guid: <guid> (sign-in)
	status  int    // HTTP status; 0 means 200
	allow   string // Allow header of a 405
	// authenticate is the WWW-Authenticate header of a 401
	authenticate string
	// truncated says a list was cut at its cap (TruncatedHeader); next, if not
	// "", is the cursor of the next page (NextHeader).
	truncated  bool
	next       string
	close      bool  // Connection: close (the body was not read)
	retryAfter int   // Retry-After, in seconds; 0: none
	err        error // logged, never sent
	// raw, if set, is sent as the body as is, with rawType as its Content-Type,
	// instead of an envelope (GET /ccgw/v1/openapi.json, the console's files)
	raw     []byte
	rawType string
	// stream, if set, writes the whole response itself, status and headers
	// too (GET /ccgw/v1/stream), and returns when it is over.
	stream func(w http.ResponseWriter)
	cookie *http.Cookie // sent as Set-Cookie (the console's sign-in)
}

// emptyResult is the reserved result, sent as {}.
var emptyResult = struct{}{}

func ok(result any) reply { return reply{code: ccgw.RetOK, result: result} }

// quietOK is ok with the message "" that the vendor's examples of some
// interfaces show instead of "success".
func quietOK(result any) reply { return reply{code: ccgw.RetOK, result: result, quiet: true} }

// failed returns the reply for err: its retcode, and err itself for the log.
func failed(err error) reply { return reply{code: ccgw.CodeOf(err), err: err} }

func fail(code ccgw.Retcode) reply { return reply{code: code} }

// envelope is the common response body (README §6).
type envelope struct {
	Message string       `json:"message"`
	Retcode ccgw.Retcode `json:"retcode"`
	Result  any          `json:"result,omitempty"`
}

// pollEnvelope is the getAgentEvent response body: event replaces result, and
// is left out when no event came, as the vendor's gateway does (its C# desktop
// demo takes exactly {"message":"","retcode":"0"} for "no event").
type pollEnvelope struct {
	Message string       `json:"message"`
	Retcode ccgw.Retcode `json:"retcode"`
	Event   *ccgw.Event  `json:"event,omitempty"`
}

const contentType = "application/json; charset=UTF-8"

// bareKey names the body of an envelope without a result (a heartbeat's, every
// failure's): its retcode and message.
type bareKey struct {
	code ccgw.Retcode
	msg  string
}

// bareEnvelope returns the body json.Marshal makes of an envelope with code and
// msg and no result, from Server.bodies: those bodies are few, and marshalling
// one per request was a heartbeat's largest cost in the handler after the
// session lookup (docs/benchmarks.md, "Capacity").
func (s *Server) bareEnvelope(code ccgw.Retcode, msg string) ([]byte, error) {
	k := bareKey{code, msg}
	if b, ok := s.bodies.Load(k); ok {
		return b.([]byte), nil
	}
	b, err := json.Marshal(envelope{Message: msg, Retcode: code})
	if err != nil {
		return nil, err
	}
	s.bodies.Store(k, b)
	return b, nil
}

// write sends rep. It is the only function that writes a response body.
func (s *Server) write(w http.ResponseWriter, rep reply) {
	h := w.Header()
	if rep.cookie != nil {
		http.SetCookie(w, rep.cookie)
	}
	if rep.stream != nil {
		rep.stream(w)
		return
	}
	if rep.raw != nil {
		h.Set("Content-Type", rep.rawType)
		h.Set("Content-Length", strconv.Itoa(len(rep.raw)))
		w.WriteHeader(cmp.Or(rep.status, http.StatusOK))
		w.Write(rep.raw)
		return
	}
	h.Set("Content-Type", contentType)
	if rep.setGUID != "" {
		// Set directly: the spec's spelling, not Go's canonical "Set-Guid".
		h["Set-GUID"] = []string{"JSESSIONID=" + rep.setGUID}
		if rep.guidHdr {
			h.Set("Guid", rep.setGUID)
		}
	}
	if rep.poll && rep.event != nil {
		h[ccgw.SeqHeader] = []string{strconv.FormatUint(rep.event.Seq, 10)}
	}
	if rep.allow != "" {
		h.Set("Allow", rep.allow)
	}
	if rep.authenticate != "" {
		h.Set("WWW-Authenticate", rep.authenticate)
	}
	if rep.close {
		h.Set("Connection", "close")
	}
	if rep.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(rep.retryAfter))
	}
	if rep.truncated && rep.code == ccgw.RetOK {
		h[TruncatedHeader] = []string{"true"}
		if rep.next != "" {
			h[NextHeader] = []string{rep.next}
		}
	}
	msg := rep.code.Message()
	if rep.code == ccgw.RetOK && rep.quiet {
		msg = ""
	}
	var body []byte
	var err error
	if rep.poll && rep.code == ccgw.RetOK {
		body, err = json.Marshal(pollEnvelope{Message: msg, Retcode: rep.code, Event: rep.event})
	} else {
		res := rep.result
		if rep.code != ccgw.RetOK {
			res = nil
		}
		if res == nil {
			body, err = s.bareEnvelope(rep.code, msg)
		} else {
			body, err = json.Marshal(envelope{Message: msg, Retcode: rep.code, Result: res})
		}
	}
	if err != nil { // only a programming error gets here
		body = []byte(`{"message":"` + ccgw.RetInternal.Message() + `","retcode":"` + string(ccgw.RetInternal) + `"}`)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	status := rep.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	w.Write(body)
}
