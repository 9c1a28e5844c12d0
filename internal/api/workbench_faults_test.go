package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// TestWorkbenchFaultAnswers: dr-switchover and unavailable answer their
// retcode to the agents and interfaces in scope only, from their start to their
// end on the gateway's clock; GET lists each with its shape, DELETE removes it.
func TestWorkbenchFaultAnswers(t *testing.T) {
	ws := wbNewServer(t)
	a, b := ws.mustLogin(t, "1001"), ws.mustLogin(t, "1002")
	now := ws.clock.Now().UnixMilli()

	r := ws.wbAdmin(t, http.MethodPost, "faults", `{"kind":"dr-switchover","agents":["1001"],"interfaces":["handShake"],"duration":"30s"}`, nil)
	mustBody(t, r, fmt.Sprintf(`{"message":"success","retcode":"0","result":{"id":"f1","kind":"dr-switchover","agents":["1001"],"interfaces":["handShake"],"start":%d,"end":%d}}`, now, now+30000))
	mustCode(t, ws.hs(t, "1001", a), "000-004")
	mustCode(t, ws.hs(t, "1002", b), "0")                                          // another agent
	mustCode(t, ws.do(t, http.MethodGet, pathStatus("1001"), guidHdr(a), ""), "0") // another interface
	mustCode(t, ws.do(t, http.MethodPost, base+"/onlineagent/1001/saybusy", guidHdr(a), ""), "0")
	ws.advance(30 * time.Second)
	mustCode(t, ws.hs(t, "1001", a), "0")
	mustBody(t, ws.wbAdmin(t, http.MethodGet, "faults", "", nil), `{"message":"success","retcode":"0","result":{"faults":[]}}`)

	now = ws.clock.Now().UnixMilli()
	ws.wbAdmin(t, http.MethodPost, "faults", `{"kind":"unavailable","at":"10s"}`, nil)
	mustBody(t, ws.wbAdmin(t, http.MethodGet, "faults", "", nil),
		fmt.Sprintf(`{"message":"success","retcode":"0","result":{"faults":[{"id":"f2","kind":"unavailable","agents":[],"interfaces":[],"start":%d,"end":0}]}}`, now+10000))
	mustCode(t, ws.hs(t, "1001", a), "0") // not started
	ws.advance(10 * time.Second)
	for _, id := range []string{"1001", "1002"} {
		g := map[string]string{"1001": a, "1002": b}[id]
		mustCode(t, ws.hs(t, id, g), "100-007")
		mustCode(t, ws.do(t, http.MethodGet, pathEvent(id), guidHdr(g), ""), "100-007")
	}
	ws.wbAdmin(t, http.MethodDelete, "faults/f2", "", nil)
	ws.wbAdminErr(t, http.MethodDelete, "faults/f2", "", http.StatusNotFound)
	mustCode(t, ws.hs(t, "1001", a), "0")
}

// TestWorkbenchGUIDExpiry: the sessions signed in before the fault have their
// GUID refused (000-003); signing in again gives one that works; sign-in
// itself is never refused.
func TestWorkbenchGUIDExpiry(t *testing.T) {
	ws := wbNewServer(t)
	a := ws.mustLogin(t, "1001")
	ws.advance(time.Second)
	ws.wbAdmin(t, http.MethodPost, "faults", `{"kind":"guid-expiry","agents":["1001","1002"]}`, nil)
	mustCode(t, ws.hs(t, "1001", a), "000-003")
	mustCode(t, ws.do(t, http.MethodGet, pathEvent("1001"), guidHdr(a), ""), "000-003")
	mustCode(t, ws.do(t, http.MethodPut, pathLogin("1001"), nil, loginBody), "100-002")
	ws.advance(time.Second)
	a2 := ws.mustSignIn(t, pathForceLogin, "1001", loginBody)
	mustCode(t, ws.hs(t, "1001", a2), "0")
	b := ws.mustLogin(t, "1002") // signed in during the fault
	mustCode(t, ws.hs(t, "1002", b), "0")
}

// TestWorkbenchSlow: a slow fault holds the answers in scope for its delay on
// the wall clock, and no other.
func TestWorkbenchSlow(t *testing.T) {
	ws := wbNewServer(t)
	a, b := ws.mustLogin(t, "1001"), ws.mustLogin(t, "1002")
	ws.wbAdmin(t, http.MethodPost, "faults", `{"kind":"slow","agents":["1001"],"interfaces":["handShake"],"delay":"2s"}`, nil)
	mustCode(t, ws.hs(t, "1002", b), "0") // not held: would wait on the fake wall clock forever
	mustCode(t, ws.do(t, http.MethodGet, pathStatus("1001"), guidHdr(a), ""), "0")
	type answer struct {
		body string
		err  error
	}
	done := make(chan answer, 1)
	go func() { // not ws.hs: a goroutine must not fail the test
		req, _ := http.NewRequest(http.MethodPost, ws.URL+pathHandShake("1001"), nil)
		req.Header.Set("Guid", a)
		resp, err := ws.srv.Client().Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- answer{string(b), err}
	}()
	for ws.wall.Pending() == 0 { // until the handler holds the answer on its timer
		select {
		case r := <-done:
			t.Fatalf("answered without the delay: %+v", r)
		default:
			runtime.Gosched()
		}
	}
	ws.wall.Advance(time.Second)
	select {
	case r := <-done:
		t.Fatalf("answered after 1s of a 2s delay: %+v", r)
	default:
	}
	ws.wall.Advance(time.Second)
	if r := <-done; r.err != nil || r.body != `{"message":"success","retcode":"0"}` {
		t.Fatalf("held handShake: %+v", r)
	}
}

// TestWorkbenchForceSignOut: the agents named are signed out as by a
// supervisor: their poll collects AgentOther_ShutdownService, then 100-006;
// others stay.
func TestWorkbenchForceSignOut(t *testing.T) {
	ws := wbNewServer(t)
	a, b := ws.mustLogin(t, "1001"), ws.mustLogin(t, "1002")
	for _, id := range []string{"1001", "1002"} {
		g := map[string]string{"1001": a, "1002": b}[id]
		mustEventType(t, ws.mustPoll(t, id, g), id, ccgw.EvInService)
		mustEventType(t, ws.mustPoll(t, id, g), id, ccgw.EvReady)
	}
	ws.wbAdmin(t, http.MethodPost, "faults", `{"kind":"force-signout","agents":["1001"]}`, nil)
	mustEventType(t, ws.mustPoll(t, "1001", a), "1001", ccgw.EvShutdownService)
	mustCode(t, ws.do(t, http.MethodGet, pathEvent("1001"), guidHdr(a), ""), "100-006")
	mustCode(t, ws.hs(t, "1002", b), "0")
	if n := ws.sessions.Stats(context.Background()).SignOuts[ccgw.CauseSupervisor]; n != 1 {
		t.Fatalf("%d supervisor sign-outs, want 1", n)
	}
}

// TestWorkbenchDropEvents: the events of the agents in scope are dropped and
// counted as reason fault; another agent's arrive.
func TestWorkbenchDropEvents(t *testing.T) {
	ws := wbNewServer(t)
	a, b := ws.mustLogin(t, "1001"), ws.mustLogin(t, "1002")
	for _, id := range []string{"1001", "1002"} {
		g := map[string]string{"1001": a, "1002": b}[id]
		ws.mustPoll(t, id, g)
		ws.mustPoll(t, id, g)
	}
	ws.wbAdmin(t, http.MethodPost, "faults", `{"kind":"drop-events","agents":["1001"],"duration":"1m"}`, nil)
	for _, id := range []string{"1001", "1002"} {
		g := map[string]string{"1001": a, "1002": b}[id]
		mustCode(t, ws.do(t, http.MethodPost, base+"/onlineagent/"+id+"/saybusy", guidHdr(g), ""), "0")
	}
	if ev := ws.mustPoll(t, "1001", a); ev != nil {
		t.Fatalf("1001 got an event during drop-events: %v", ev)
	}
	mustEventType(t, ws.mustPoll(t, "1002", b), "1002", "AgentState_SetNotReady_Success")
	if n := ws.sessions.Stats(context.Background()).Drops[ccgw.DropFault]; n == 0 {
		t.Fatal("no drop counted as fault")
	}
	ws.advance(time.Minute)
	mustCode(t, ws.do(t, http.MethodPost, base+"/onlineagent/1001/sayfree", guidHdr(a), ""), "0")
	if ev := ws.mustPoll(t, "1001", a); ev == nil {
		t.Fatal("1001 got no event after the fault")
	}
}

// TestWorkbenchFaultInputs: every bad fault is 000-002 (an unknown field
// too), and beyond 100 held 409.
func TestWorkbenchFaultInputs(t *testing.T) {
	ws := wbNewServer(t)
	for _, body := range []string{``, `{`, `[]`, `{}`, `{"kind":"meltdown"}`, `{"kind":"slow"}`, `{"kind":"slow","delay":"31s"}`,
		`{"kind":"slow","delay":"soon"}`, `{"kind":"unavailable","delay":"1s"}`, `{"kind":"unavailable","agents":["abc"]}`,
		`{"kind":"unavailable","agents":["99"]}`, `{"kind":"unavailable","interfaces":["handshake"]}`,
		`{"kind":"drop-events","interfaces":["getAgentEvent"]}`, `{"kind":"unavailable","duration":"-1s"}`,
		`{"kind":"unavailable","duration":"25h"}`, `{"kind":"unavailable","start":1,"at":"1s"}`,
		`{"kind":"unavailable","start":-5}`, `{"kind":"unavailable","at":"-1s"}`, `{"kind":"unavailable","colour":"red"}`,
		`{"kind":"unavailable"} {}`} {
		ws.wbAdminErr(t, http.MethodPost, "faults", body, http.StatusOK)
	}
	mustBody(t, ws.wbAdmin(t, http.MethodGet, "faults", "", nil), `{"message":"success","retcode":"0","result":{"faults":[]}}`)
	for range 100 {
		ws.wbAdmin(t, http.MethodPost, "faults", `{"kind":"slow","agents":[1001],"delay":"1s","duration":"1h"}`, nil)
	}
	ws.wbAdminErr(t, http.MethodPost, "faults", `{"kind":"unavailable"}`, http.StatusConflict)
	ws.wbAdmin(t, http.MethodDelete, "faults/f7", "", nil)
	r := ws.wbAdmin(t, http.MethodPost, "faults", `{"kind":"unavailable","agents":["1005"]}`, nil)
	if !strings.Contains(string(r.body), `"id":"f101"`) {
		t.Fatalf("the fault after a removal: %s", r.body)
	}
	ws.wbAdminErr(t, http.MethodDelete, "faults/nope", "", http.StatusNotFound)
	adminNotAllowedWB(t, ws, http.MethodPut, "faults", "GET, POST")
}
