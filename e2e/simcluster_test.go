package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/redistest"
	"github.com/ccgw/ccgw/internal/wait"
)

// simClusterScenario: the call centre of TestSimulatorOnCluster. Skill 1 has
// no simulated agent, so its calls go to the client; simulated agent 2001
// serves skill 2 and must outlive many heartbeat timeouts.
const simClusterScenario = `seed: 3
clock: real
ringTimeout: 60s
skills:
  - {id: 1, name: Sales, mediatype: 5}
  - {id: 2, name: Support, mediatype: 5}
agents:
  - {workNo: "2001", skills: [2], answerAfter: 0s, wrapUp: 1s}
`

// TestSimulatorOnCluster runs two nodes on one Redis, the simulated call
// centre on node A. A client signs in on node B and takes a call through both:
// offered by A's simulator, answered via B, held via A, taken back and
// released via B, every answer retcode 0 as on one node (a second release
// 200-017). While the client is
// busy (set via B) a call waits; set free via A, the agent is offered it, once.
// Node A's journal (and B's) has every event the client polled, in order; the
// simulated agent is never signed out for silence.
func TestSimulatorOnCluster(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	file := filepath.Join(t.TempDir(), "centre.yaml")
	if err := os.WriteFile(file, []byte(simClusterScenario), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startGateway(t, t.TempDir(), "--store", srv.URL(), "--node-name", "AgentGateway1", "--scenario", file)
	a.log.waitLine(t, 30*time.Second, "msg", "scenario applied", "agents", "1")
	applied := time.Now()
	b := startGateway(t, t.TempDir(), "--store", srv.URL(), "--node-name", "AgentGateway2")

	const id = "1001"
	guid, _ := b.signIn(t, id, `{"password":"p","phonenum":"70001","autoanswer":false}`)
	hb := startHeartbeat(t, id, guid, 500*time.Millisecond, func() *proc { return b })
	defer hb.halt()

	var polled []event
	// waitFor polls p until an event of type typ arrives, keeping every event.
	waitFor := func(p *proc, typ string) event {
		t.Helper()
		var found *event
		wait.For(t, 30*time.Second, time.Millisecond, func() error {
			env := p.poll(t, id, guid)
			if env.Retcode != "0" {
				t.Fatalf("poll via %s: retcode %s", p.addr, env.Retcode)
			}
			if env.Event == nil {
				return fmt.Errorf("no %s yet; polled %q", typ, eventTypes(polled))
			}
			polled = append(polled, *env.Event)
			if env.Event.Type == typ {
				found = env.Event
				return nil
			}
			return fmt.Errorf("polled %s, waiting for %s", env.Event.Type, typ)
		})
		return *found
	}
	do := func(p *proc, method, path, body string) {
		t.Helper()
		r := call(t, p.client, method, p.url(path), guid, body)
		if r.status != http.StatusOK || r.env.Retcode != "0" {
			t.Fatalf("%s %s via %s: HTTP %d %s", method, path, p.addr, r.status, r.body)
		}
	}
	inject := func(p *proc) string { // through p's admin API: on B it is relayed to A's call centre
		t.Helper()
		var res struct {
			CallID string `json:"callid"`
		}
		p.admin(t, http.MethodPost, "calls", `{"skillId":1,"caller":"13800001111"}`, &res)
		return res.CallID
	}

	// A call offered by node A's simulator to the client of node B.
	call1 := inject(a)
	ring := waitFor(b, "AgentEvent_Ringing")
	if !bytes.Contains(ring.Content, []byte(call1)) {
		t.Fatalf("rang with %s, want call %s", ring.Content, call1)
	}
	r := call(t, b.client, http.MethodGet, b.url("calldata/"+id+"/callinfobeforeanswer"), guid, "")
	if r.env.Retcode != "0" || !bytes.Contains(r.env.Result, []byte(call1)) {
		t.Fatalf("queryCallInfoBeforeAnswer via B: %s", r.body)
	}
	do(b, http.MethodPut, "voicecall/"+id+"/answer", "")
	waitFor(b, "AgentEvent_Talking")
	do(a, http.MethodPost, "voicecall/"+id+"/hold", "")
	waitFor(a, "AgentEvent_Hold")
	r = call(t, b.client, http.MethodGet, b.url("calldata/"+id+"/holdlist"), guid, "")
	if r.env.Retcode != "0" || !bytes.Contains(r.env.Result, []byte(call1)) {
		t.Fatalf("queryHoldListInfo via B: %s", r.body)
	}
	do(b, http.MethodPost, "voicecall/"+id+"/gethold", "")
	waitFor(b, "AgentEvent_Talking")
	do(b, http.MethodDelete, "voicecall/"+id+"/release", "")
	waitFor(b, "AgentEvent_Call_Release")
	r = call(t, b.client, http.MethodDelete, b.url("voicecall/"+id+"/release"), guid, "")
	if r.env.Retcode != "200-017" {
		t.Fatalf("a second release via B: %s, want 200-017 as on one node", r.body)
	}

	// Busy (via B): a new call, injected and watched through B's admin API,
	// waits. Free (via A): it is offered, once.
	do(b, http.MethodPost, "onlineagent/"+id+"/saybusy", "")
	waitFor(b, "AgentState_SetNotReady_Success")
	call2 := inject(b)
	holdsFor(t, 2*time.Second, 100*time.Millisecond, func() error {
		var st struct {
			State string `json:"state"`
		}
		for _, p := range []*proc{b, a} { // the one call centre's call, seen from both nodes
			p.admin(t, http.MethodGet, "calls/"+call2, "", &st)
			if st.State != "queued" {
				return fmt.Errorf("call %s is %s on %s while its only agent is busy, want queued", call2, st.State, p.addr)
			}
		}
		return nil
	})
	do(a, http.MethodPost, "onlineagent/"+id+"/sayfree", "")
	ring = waitFor(b, "AgentEvent_Ringing")
	if !bytes.Contains(ring.Content, []byte(call2)) {
		t.Fatalf("rang with %s, want call %s", ring.Content, call2)
	}
	do(a, http.MethodPut, "voicecall/"+id+"/answer", "")
	waitFor(a, "AgentEvent_Talking")
	do(b, http.MethodDelete, "voicecall/"+id+"/release", "")
	waitFor(b, "AgentEvent_Call_Release")
	for empty := 0; empty < 3; { // the rest of the client's events
		env := b.poll(t, id, guid)
		if env.Event == nil {
			empty++
			continue
		}
		polled = append(polled, *env.Event)
	}
	for _, c := range []string{call1, call2} {
		n := 0
		for _, ev := range polled {
			if ev.Type == "AgentEvent_Ringing" && bytes.Contains(ev.Content, []byte(c)) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("call %s rang %d times at agent %s, want once: %q", c, n, id, eventTypes(polled))
		}
	}

	// Both journals have every event the client polled, in order.
	want := eventTypes(polled)
	for _, p := range []*proc{a, b} {
		wait.For(t, 30*time.Second, 100*time.Millisecond, func() error {
			var got []string
			for line := range bytes.Lines(p.journal(t)) {
				var ev event
				if err := json.Unmarshal(line, &ev); err != nil {
					t.Fatal(err)
				}
				if ev.WorkNo == id {
					got = append(got, ev.Type)
				}
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("journal of %s has agent %s's events %q, its client polled %q", p.addr, id, got, want)
			}
			return nil
		})
	}

	// The simulated agent outlives three heartbeat timeouts (2s): still signed in.
	wait.For(t, 30*time.Second, 100*time.Millisecond, func() error {
		if d := time.Since(applied); d < 3*2*time.Second+time.Second {
			return fmt.Errorf("only %v since the simulated agent signed in", d)
		}
		return nil
	})
	r = call(t, b.client, http.MethodPut, b.url("onlineagent/2001"), "", loginBody)
	if r.env.Retcode != "100-002" {
		t.Fatalf("sign-in of simulated agent 2001 via B: %s, want 100-002 (it is signed in)", r.body)
	}
	for _, p := range []*proc{a, b} {
		if lines := p.log.find("msg", "signed out", "agent", "2001"); len(lines) > 0 {
			t.Fatalf("%s signed the simulated agent out: %s", p.addr, lines[0].raw)
		}
	}
	hb.check(t)
}

func eventTypes(evs []event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}
