package api_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/api"
)

// liveAgent is an agent of GET /ccgw/v1/agents.
type liveAgent struct {
	Agent      string `json:"agent"`
	State      int    `json:"state"`
	Mode       string `json:"mode"`
	Simulated  bool   `json:"simulated"`
	LoginTime  int64  `json:"loginTime"`
	StateSince int64  `json:"stateSince"`
	LastSeen   int64  `json:"lastSeen"`
	GUIDAge    int64  `json:"guidAgeMillis"`
	Queued     int    `json:"queued"`
	Findings   int    `json:"findings"`
	CallID     string `json:"callId"`
	Skills     []int  `json:"skills"`
}

type liveAgents struct {
	Agents []liveAgent `json:"agents"`
	Next   string      `json:"next"`
	Now    int64       `json:"now"`
}

// TestLiveAgents: GET /ccgw/v1/agents pages the live sessions, clients and
// simulated, in work-number order, with state, mode, last heartbeat, GUID
// age, queued events and findings; never a GUID. Its bounds are 000-002.
func TestLiveAgents(t *testing.T) {
	ls := lvNewServer(t, simConfig{})
	g1 := ls.mustLogin(t, "1001")
	g3 := ls.mustSignIn(t, pathLogin, "1003", `{"password":"p","phonenum":"70003","callBackUri":"http://127.0.0.1:9/events","serviceToken":"t0k3n"}`)
	mustCode(t, ls.lvAdmin(t, http.MethodPost, "agents", nil, `{"workNo":"2001"}`), "0")
	ls.clock.Advance(30 * time.Second)
	mustCode(t, ls.do(t, http.MethodPost, pathHandShake("1001"), guidHdr(g1), ""), "0")
	// A body that is not JSON: a wrong-content-type finding for 1003.
	ls.do(t, http.MethodPost, pathHandShake("1003"), hdr{"Guid": g3, "Content-Type": "text/plain"}, "hello")
	ls.sessions.Sweep(ls.clock.Now()) // the tick that writes the renewals

	var page liveAgents
	r := ls.lvAdmin(t, http.MethodGet, "agents?limit=2", nil, "")
	lvResult(t, r, &page)
	for _, g := range []string{g1, g3} {
		if strings.Contains(string(r.body), g) {
			t.Fatalf("the agents list holds a GUID: %s", r.body)
		}
	}
	now := clStart.Add(30 * time.Second).UnixMilli()
	if len(page.Agents) != 2 || page.Next != "1003" || page.Now != now {
		t.Fatalf("first page %+v, want 1001 and 1003, next 1003, now %d", page, now)
	}
	a1, a3 := page.Agents[0], page.Agents[1]
	if a1.Agent != "1001" || a1.State != int(ccgw.StateIdle) || a1.Mode != "poll" || a1.Simulated || a1.LastSeen != now ||
		a1.GUIDAge != 30000 || a1.Queued == 0 || a1.Findings != 0 || a1.LoginTime != clStart.UnixMilli() {
		t.Errorf("1001: %+v", a1)
	}
	if a3.Agent != "1003" || a3.Mode != "push" || a3.LastSeen != now || a3.Findings != 1 {
		t.Errorf("1003: %+v, want push, seen now, 1 finding", a3)
	}
	lvResult(t, ls.lvAdmin(t, http.MethodGet, "agents?after=1003&limit=500", nil, ""), &page)
	if len(page.Agents) != 1 || page.Next != "" || page.Agents[0].Agent != "2001" || !page.Agents[0].Simulated {
		t.Fatalf("second page %+v, want simulated 2001 alone", page)
	}
	lvResult(t, ls.lvAdmin(t, http.MethodGet, "agents", nil, ""), &page)
	if len(page.Agents) != 3 || page.Next != "" {
		t.Fatalf("default page %+v, want all 3", page)
	}
	for _, q := range []string{"limit=0", "limit=501", "limit=x", "limit=-1", "after=abc", "after=100", "after=1000000", "after=-1"} {
		lvMust(t, q, ls.lvAdmin(t, http.MethodGet, "agents?"+q, nil, ""), http.StatusOK, "000-002")
	}
}

// TestLiveAgentsCapped: with more agents than the cap, pages of 500 walk
// every agent once, in order.
func TestLiveAgentsCapped(t *testing.T) {
	ls := lvNewServer(t, simConfig{})
	const n = api.MaxLiveLimit + 20
	for i := range n {
		id := strconv.Itoa(1001 + i)
		ls.mustSignIn(t, pathLogin, id, `{"password":"p","phonenum":"7`+id+`"}`)
	}
	var seen []string
	after := ""
	for pages := 1; ; pages++ {
		var page liveAgents
		lvResult(t, ls.lvAdmin(t, http.MethodGet, "agents?limit=500&after="+after, nil, ""), &page)
		if len(page.Agents) > api.MaxLiveLimit {
			t.Fatalf("page of %d", len(page.Agents))
		}
		for _, a := range page.Agents {
			seen = append(seen, a.Agent)
		}
		if page.Next == "" {
			if pages != 2 {
				t.Fatalf("%d pages, want 2", pages)
			}
			break
		}
		after = page.Next
	}
	if len(seen) != n || seen[0] != "1001" || seen[n-1] != strconv.Itoa(1000+n) {
		t.Fatalf("walked %d agents, %v…", len(seen), seen[:3])
	}
}

// TestLiveForceOut: DELETE /ccgw/v1/agents/{agentid} signs the agent out as a
// supervisor (its client collects AgentOther_ShutdownService), exactly once
// among racing requests; not signed in is HTTP 404 and 100-006.
func TestLiveForceOut(t *testing.T) {
	ls := lvNewServer(t, simConfig{})
	g := ls.mustLogin(t, "1001")
	for ev := ls.mustPoll(t, "1001", g); ev != nil; ev = ls.mustPoll(t, "1001", g) {
	}
	mustCode(t, ls.lvAdmin(t, http.MethodDelete, "agents/1001", nil, ""), "0")
	ev := ls.mustPoll(t, "1001", g)
	if typ := string(ev["eventType"]); typ != `"`+ccgw.EvShutdownService+`"` {
		t.Fatalf("after the force-out the client polled %s", typ)
	}
	if _, ok := ls.sessions.Lookup(context.Background(), 1001); ok {
		t.Fatal("still signed in")
	}
	lvMust(t, "again", ls.lvAdmin(t, http.MethodDelete, "agents/1001", nil, ""), http.StatusNotFound, "100-006")
	lvMust(t, "never signed in", ls.lvAdmin(t, http.MethodDelete, "agents/4711", nil, ""), http.StatusNotFound, "100-006")
	for _, bad := range []string{"abc", "100", "1000000"} {
		lvMust(t, bad, ls.lvAdmin(t, http.MethodDelete, "agents/"+bad, nil, ""), http.StatusOK, "000-002")
	}

	// Racing force-outs: one wins.
	ls.mustLogin(t, "1002")
	before := ls.sessions.Stats(context.Background()).SignOuts[ccgw.CauseSupervisor]
	var wg sync.WaitGroup
	codes := make(chan string, 8)
	for range 8 {
		wg.Go(func() { codes <- ls.lvAdmin(t, http.MethodDelete, "agents/1002", nil, "").retcode() })
	}
	wg.Wait()
	close(codes)
	won := 0
	for c := range codes {
		switch c {
		case "0":
			won++
		case "100-006":
		default:
			t.Errorf("retcode %s", c)
		}
	}
	if after := ls.sessions.Stats(context.Background()).SignOuts[ccgw.CauseSupervisor]; won != 1 || after != before+1 {
		t.Fatalf("%d force-outs succeeded, %d sign-outs counted; want 1 and 1", won, after-before)
	}
}

// TestLiveCalls: GET /ccgw/v1/calls pages the live calls in the order they
// were made; its bounds are 000-002.
func TestLiveCalls(t *testing.T) {
	ls := lvNewServer(t, simConfig{})
	var ids []string
	for range 3 {
		var res struct {
			CallID string `json:"callid"`
		}
		lvResult(t, ls.lvAdmin(t, http.MethodPost, "calls", nil, `{"skillId":1,"caller":"13912345678","callData":"<b>x</b>"}`), &res)
		ids = append(ids, res.CallID)
	}
	type calls struct {
		Calls []struct {
			CallID   string `json:"callid"`
			State    string `json:"state"`
			CallData string `json:"calldata"`
		} `json:"calls"`
		Next string `json:"next"`
	}
	var page calls
	lvResult(t, ls.lvAdmin(t, http.MethodGet, "calls?limit=2", nil, ""), &page)
	if len(page.Calls) != 2 || page.Next != ids[1] || page.Calls[0].CallID != ids[0] || page.Calls[0].State != "queued" ||
		page.Calls[0].CallData != "<b>x</b>" {
		t.Fatalf("first page %+v, want %v…", page, ids[:2])
	}
	lvResult(t, ls.lvAdmin(t, http.MethodGet, "calls?after="+page.Next, nil, ""), &page)
	if len(page.Calls) != 1 || page.Next != "" || page.Calls[0].CallID != ids[2] {
		t.Fatalf("second page %+v, want %s", page, ids[2])
	}
	mustCode(t, ls.lvAdmin(t, http.MethodDelete, "calls/"+ids[2], nil, ""), "0")
	lvResult(t, ls.lvAdmin(t, http.MethodGet, "calls?after="+ids[1], nil, ""), &page)
	if len(page.Calls) != 0 || page.Calls == nil {
		t.Fatalf("after the hang-up %+v, want an empty list", page)
	}
	for _, q := range []string{"limit=0", "limit=501", "after=x", "after=1-0", "after=1-x", "after=-1"} {
		lvMust(t, q, ls.lvAdmin(t, http.MethodGet, "calls?"+q, nil, ""), http.StatusOK, "000-002")
	}
}
