package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestScenarioVirtualClock runs examples/inbound-small.yaml on a virtual clock in
// two gateways: advancing both by the same steps gives call events in the
// journal, answered calls in the queues, and byte-identical journals.
//
// On bbolt and with --store memory (the cluster's session service as one
// node, its hooks called at once); not on Redis, where the simulator hears of
// changes from the feed a moment late (docs/decisions.md).
func TestScenarioVirtualClock(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"bolt", "memory"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			testScenarioVirtualClock(t, store)
		})
	}
}

func testScenarioVirtualClock(t *testing.T, store string) {
	file, err := filepath.Abs("../examples/inbound-small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC) // the scenario's start
	var journals [2][]byte
	var procs [2]*proc
	for i := range procs {
		p := startGatewayOn(t, store, "--scenario", file, "--clock", "virtual")
		procs[i] = p
		p.log.waitLine(t, 30*time.Second, "msg", "scenario applied", "agents", "6", "skills", "2", "seed", "7")

		var clk struct {
			Now     int64 `json:"now"`
			Virtual bool  `json:"virtual"`
		}
		p.admin(t, http.MethodGet, "clock", "", &clk)
		if !clk.Virtual || clk.Now != start.UnixMilli() {
			t.Fatalf("clock %+v, want virtual at %v", clk, start)
		}
		for range 6 { // 30 minutes in 5-minute steps
			p.admin(t, http.MethodPost, "clock/advance", `{"duration":"5m"}`, &clk)
		}
		if clk.Now != start.Add(30*time.Minute).UnixMilli() {
			t.Fatalf("after advancing: now %d", clk.Now)
		}
		journals[i] = p.journal(t)
	}

	var evs []event
	for line := range bytes.Lines(journals[0]) {
		var ev event
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	counts := map[string]int{}
	for _, ev := range evs {
		counts[ev.Type]++
		if ev.GenTime < start.UnixMilli() || ev.GenTime > start.Add(30*time.Minute).UnixMilli() {
			t.Fatalf("event %+v outside the virtual half hour", ev)
		}
	}
	for _, typ := range []string{evInService, "AgentEvent_Incoming_CallInfo", "AgentEvent_Auto_Answer",
		"AgentEvent_Ringing", "AgentEvent_Talking", "AgentEvent_Customer_Release", "AgentState_Work"} {
		if counts[typ] == 0 {
			t.Errorf("no %s among %d journal events: %v", typ, len(evs), counts)
		}
	}
	if counts[evInService] != 6 {
		t.Errorf("%d simulated agents signed in, want 6", counts[evInService])
	}

	var queues []struct {
		Skill    int `json:"skillId"`
		Offered  int `json:"offered"`
		Answered int `json:"answered"`
	}
	procs[0].admin(t, http.MethodGet, "queues", "", &queues)
	if len(queues) != 2 {
		t.Fatalf("queues %+v, want skills 1 and 2", queues)
	}
	for _, q := range queues {
		if q.Answered == 0 {
			t.Errorf("queue %d answered no calls: %+v", q.Skill, q)
		}
	}

	if !bytes.Equal(journals[0], journals[1]) {
		t.Fatalf("two gateways running the same scenario wrote different journals (%d and %d bytes)",
			len(journals[0]), len(journals[1]))
	}

	// An agent signing in over HTTP gets the scenario's skills.
	g, _ := procs[0].signIn(t, "1001", "")
	r := call(t, procs[0].client, http.MethodGet, procs[0].url("onlineagent/1001/agentskills"), g, "")
	var skills []struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(r.env.Result, &skills); err != nil || len(skills) != 2 ||
		skills[0].Name != "Sales" || skills[1].Name != "Support" {
		t.Fatalf("agentskills: %s (%v)", r.body, err)
	}
}

// admin calls the admin API at /ccgw/v1/path on p's admin listener and decodes
// its result into out.
func (p *proc) admin(tb testing.TB, method, path, body string, out any) {
	tb.Helper()
	r := call(tb, p.client, method, p.adminURL("/ccgw/v1/"+path), "", body)
	if r.status != http.StatusOK || r.env.Retcode != "0" {
		tb.Fatalf("%s /ccgw/v1/%s: HTTP %d %s", method, path, r.status, r.body)
	}
	if err := json.Unmarshal(r.env.Result, out); err != nil {
		tb.Fatalf("%s /ccgw/v1/%s: result %s: %v", method, path, r.env.Result, err)
	}
}

// journal reads the whole event journal, page by page, as JSON lines.
func (p *proc) journal(tb testing.TB) []byte {
	tb.Helper()
	var b bytes.Buffer
	var after uint64
	for {
		var page struct {
			Events []json.RawMessage `json:"events"`
			Last   uint64            `json:"last"`
		}
		p.admin(tb, http.MethodGet, "events?after="+strconv.FormatUint(after, 10)+"&limit=500", "", &page)
		if len(page.Events) == 0 {
			return b.Bytes()
		}
		if page.Last != after+uint64(len(page.Events)) {
			tb.Fatalf("events after %d: %d events, last %d", after, len(page.Events), page.Last)
		}
		for _, ev := range page.Events {
			b.Write(ev)
			b.WriteByte('\n')
		}
		after = page.Last
	}
}
