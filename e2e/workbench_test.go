package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/wait"
)

// The integrator's workbench on the real binary: the client conformance
// report, the request journal and faults on demand, all on the admin listener.

// wbFinding is one finding of GET /ccgw/v1/clients/{agentid}.
type wbFinding struct {
	Code        string         `json:"code"`
	Explanation string         `json:"explanation"`
	Evidence    map[string]any `json:"evidence"`
	Vendor      string         `json:"vendor"`
	First       int64          `json:"first"`
	Last        int64          `json:"last"`
	Count       int            `json:"count"`
}

// wbClients is GET /ccgw/v1/clients.
type wbClients struct {
	Clients []struct {
		Agent    string         `json:"agent"`
		Findings map[string]int `json:"findings"`
		LastSeen int64          `json:"lastSeen"`
		Requests int            `json:"requests"`
	} `json:"clients"`
	Next string `json:"next"`
}

// TestWorkbenchReport: a scripted client that ignores Set-GUID in dynamic mode
// until its GUID is refused, then retries at once in a tight loop, and sends
// a body as text/plain. The admin API reports stale-guid, hammering and
// wrong-content-type with their evidence, the log has one WARN line for each
// (without a GUID), the metric counts them, and the request journal keeps the
// last 5 requests without query or GUID.
func TestWorkbenchReport(t *testing.T) { onEveryStore(t, testWorkbenchReport) }

func testWorkbenchReport(t *testing.T, store string) {
	p := startGatewayOn(t, store, "--auth-mode", "dynamic", "--guid-interval", "500ms", "--guid-timeout", "1s",
		"--heartbeat-timeout", "30s", "--journal-requests", "5")
	g1, _ := p.signIn(t, "1001", "")
	rotated := false
	wait.For(t, 10*time.Second, 100*time.Millisecond, func() error { // the client keeps its first GUID
		r := call(t, p.client, http.MethodPost, p.url("onlineagent/1001/handshake"), g1, "")
		switch {
		case r.env.Retcode == "000-003":
			return nil
		case r.env.Retcode != "0":
			t.Fatalf("handshake with the first GUID: %s", r.body)
		case r.header.Get("Set-GUID") != "":
			rotated = true
		}
		return fmt.Errorf("the first GUID still accepted")
	})
	if !rotated {
		t.Fatal("refused without a Set-GUID first")
	}
	for range 10 { // retries at once
		if r := call(t, p.client, http.MethodPost, p.url("onlineagent/1001/handshake"), g1, ""); r.env.Retcode != "000-003" {
			t.Fatalf("retry: %s", r.body)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, p.url("onlineagent/1001/saybusy?reason=0&token=s3cr3t"), strings.NewReader("{}"))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Guid", g1)
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	var list wbClients
	p.admin(t, http.MethodGet, "clients", "", &list)
	if len(list.Clients) != 1 || list.Next != "" {
		t.Fatalf("clients %+v", list)
	}
	c := list.Clients[0]
	if c.Agent != "1001" || c.Findings["stale-guid"] < 1 || c.Findings["hammering"] < 1 || c.Findings["wrong-content-type"] != 1 ||
		c.LastSeen == 0 || c.Requests < 9 {
		t.Fatalf("summary %+v", c)
	}
	var d struct {
		Agent    string      `json:"agent"`
		Findings []wbFinding `json:"findings"`
	}
	p.admin(t, http.MethodGet, "clients/1001", "", &d)
	byCode := map[string]wbFinding{}
	for _, f := range d.Findings {
		byCode[f.Code] = f
		if f.Explanation == "" || f.Vendor == "" || f.First == 0 || f.Last < f.First || f.Count < 1 {
			t.Errorf("finding %+v", f)
		}
	}
	if f := byCode["stale-guid"]; f.Evidence["refused"].(float64) < 1 {
		t.Errorf("stale-guid evidence %v", f.Evidence)
	}
	if f := byCode["hammering"]; f.Evidence["afterRetcode"] != "000-003" || f.Evidence["requests"].(float64) < 5 {
		t.Errorf("hammering evidence %v", f.Evidence)
	}
	if f := byCode["wrong-content-type"]; f.Evidence["contentType"] != "text/plain" {
		t.Errorf("wrong-content-type evidence %v", f.Evidence)
	}

	var journal struct {
		Requests []struct {
			Time       int64  `json:"time"`
			Method     string `json:"method"`
			HTTP       string `json:"http"`
			Path       string `json:"path"`
			Retcode    string `json:"retcode"`
			Status     int    `json:"status"`
			TookMicros int64  `json:"tookMicros"`
		} `json:"requests"`
	}
	p.admin(t, http.MethodGet, "clients/1001/requests", "", &journal)
	if n := len(journal.Requests); n != 5 {
		t.Fatalf("journal of %d requests, want the last 5", n)
	}
	last := journal.Requests[4]
	if last.Method != "sayBusy" || last.HTTP != "POST" || last.Path != "/agentgateway/resource/onlineagent/1001/saybusy" ||
		last.Retcode != "000-003" || last.Status != 200 || last.Time < journal.Requests[0].Time {
		t.Errorf("last journal entry %+v", last)
	}
	for _, path := range []string{"clients", "clients/1001", "clients/1001/requests"} {
		body := getBody(t, p.client, p.adminURL("/ccgw/v1/"+path))
		if strings.Contains(body, g1[:8]) || strings.Contains(body, "s3cr3t") {
			t.Fatalf("%s shows a GUID or a query value: %s", path, body)
		}
	}
	for _, code := range []string{"stale-guid", "hammering", "wrong-content-type"} {
		ls := p.log.find("msg", "client finding", "code", code)
		if len(ls) != 1 || ls[0].attr["level"] != "WARN" || ls[0].attr["agent"] != "1001" || strings.Contains(ls[0].raw, g1[:8]) {
			t.Errorf("log lines for %s: %v", code, ls)
		}
	}
	if m := getBody(t, p.client, p.adminURL("/metrics")); !strings.Contains(m, `ccgw_client_findings_total{code="hammering"} 1`) || // new once for the agent
		!strings.Contains(m, `ccgw_client_findings_total{code="stale-guid"} 1`) {
		t.Errorf("metrics lack the findings:\n%s", grepLines(m, "ccgw_client_findings_total"))
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// wbFault is a fault on the admin API.
type wbFault struct {
	ID         string   `json:"id"`
	Kind       string   `json:"kind"`
	Agents     []string `json:"agents"`
	Interfaces []string `json:"interfaces"`
	Start      int64    `json:"start"`
	End        int64    `json:"end"`
	Delay      string   `json:"delay"`
}

func (p *proc) addFault(tb testing.TB, body string) wbFault {
	tb.Helper()
	var f wbFault
	p.admin(tb, http.MethodPost, "faults", body, &f)
	return f
}

// metric returns the line of /metrics starting with series, "" if none.
func (p *proc) metric(tb testing.TB, series string) string {
	tb.Helper()
	for l := range strings.Lines(getBody(tb, p.client, p.adminURL("/metrics"))) {
		if strings.HasPrefix(l, series+" ") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// TestWorkbenchFaults injects each kind of fault into the real binary against
// clients, each scoped to one agent: the agent in scope sees the fault, the
// others nothing; on bbolt and on Redis (drop-events included).
func TestWorkbenchFaults(t *testing.T) { onEveryStore(t, testWorkbenchFaults) }

func testWorkbenchFaults(t *testing.T, store string) {
	p := startGatewayOn(t, store, "--heartbeat-timeout", "30s")
	g := map[string]string{}
	for _, id := range []string{"1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008"} {
		g[id], _ = p.signIn(t, id, "")
		p.drain(t, id, g[id], evInService, "AgentState_Ready")
	}
	hs := func(id string) string { return p.handshake(t, id, g[id]) }

	t.Run("dr-switchover", func(t *testing.T) {
		f := p.addFault(t, `{"kind":"dr-switchover","agents":["1001"],"duration":"1500ms"}`)
		if f.Kind != "dr-switchover" || !slices.Equal(f.Agents, []string{"1001"}) || f.End-f.Start != 1500 {
			t.Fatalf("fault %+v", f)
		}
		if m := p.metric(t, `ccgw_faults_active{kind="dr-switchover"}`); m != `ccgw_faults_active{kind="dr-switchover"} 1` {
			t.Errorf("metric %q", m)
		}
		if got := hs("1001"); got != "000-004" {
			t.Errorf("1001 handshake %s, want 000-004", got)
		}
		if env := p.poll(t, "1001", g["1001"]); env.Retcode != "000-004" {
			t.Errorf("1001 poll %s, want 000-004", env.Retcode)
		}
		if got := hs("1002"); got != "0" {
			t.Errorf("1002 handshake %s", got)
		}
		wait.For(t, 10*time.Second, 100*time.Millisecond, func() error { // its end
			if got := hs("1001"); got != "0" {
				return fmt.Errorf("1001 handshake %s", got)
			}
			return nil
		})
		var list struct {
			Faults []wbFault `json:"faults"`
		}
		p.admin(t, http.MethodGet, "faults", "", &list)
		if len(list.Faults) != 0 {
			t.Errorf("faults after the end: %+v", list)
		}
	})

	t.Run("unavailable", func(t *testing.T) {
		f := p.addFault(t, `{"kind":"unavailable","agents":["1002"],"interfaces":["getAgentEvent"]}`)
		if env := p.poll(t, "1002", g["1002"]); env.Retcode != "100-007" {
			t.Errorf("1002 poll %s, want 100-007", env.Retcode)
		}
		if got := hs("1002"); got != "0" {
			t.Errorf("1002 handshake (another interface) %s", got)
		}
		var none struct{}
		p.admin(t, http.MethodDelete, "faults/"+f.ID, "", &none)
		if env := p.poll(t, "1002", g["1002"]); env.Retcode != "0" {
			t.Errorf("1002 poll after DELETE %s", env.Retcode)
		}
	})

	t.Run("guid-expiry", func(t *testing.T) {
		p.addFault(t, `{"kind":"guid-expiry","agents":["1003"],"duration":"1m"}`)
		if got := hs("1003"); got != "000-003" {
			t.Fatalf("1003 handshake %s, want 000-003", got)
		}
		r := call(t, p.client, http.MethodPut, p.url("onlineagent/1003/forcelogin"), "", loginBody)
		g2 := strings.TrimPrefix(r.header.Get("Set-GUID"), "JSESSIONID=")
		if r.env.Retcode != "0" || g2 == "" {
			t.Fatalf("forcelogin during guid-expiry: %s", r.body)
		}
		if got := p.handshake(t, "1003", g2); got != "0" {
			t.Errorf("1003 handshake with its new GUID %s", got)
		}
		if got := hs("1004"); got != "0" {
			t.Errorf("1004 handshake %s", got)
		}
	})

	t.Run("slow", func(t *testing.T) {
		const delay = 2 * time.Second
		p.addFault(t, `{"kind":"slow","agents":["1004"],"interfaces":["handShake"],"delay":"2s","duration":"1m"}`)
		start := time.Now()
		if got := hs("1004"); got != "0" {
			t.Errorf("1004 handshake %s", got)
		}
		if took := time.Since(start); took < delay {
			t.Errorf("1004 handshake took %v, want at least %v", took, delay)
		}
		start = time.Now()
		hs("1005")
		if took := time.Since(start); took >= delay {
			t.Errorf("1005 handshake (out of scope) took %v", took)
		}
	})

	t.Run("force-signout", func(t *testing.T) {
		p.addFault(t, `{"kind":"force-signout","agents":["1006"]}`)
		p.drain(t, "1006", g["1006"], "AgentOther_ShutdownService")
		if env := p.poll(t, "1006", g["1006"]); env.Retcode != "100-006" {
			t.Errorf("1006 poll after its shutdown %s, want 100-006", env.Retcode)
		}
		if got := hs("1005"); got != "0" {
			t.Errorf("1005 handshake %s", got)
		}
		p.log.waitLine(t, 5*time.Second, "msg", "signed out", "agent", "1006", "cause", "supervisor")
	})

	t.Run("drop-events", func(t *testing.T) {
		p.addFault(t, `{"kind":"drop-events","agents":["1007"],"duration":"1m"}`)
		for _, id := range []string{"1007", "1008"} {
			r := call(t, p.client, http.MethodPost, p.url("onlineagent/"+id+"/saybusy"), g[id], "")
			if r.env.Retcode != "0" {
				t.Fatalf("%s saybusy: %s", id, r.body)
			}
		}
		if env := p.poll(t, "1007", g["1007"]); env.Retcode != "0" || env.Event != nil {
			t.Errorf("1007 poll during drop-events: %+v", env)
		}
		p.drain(t, "1008", g["1008"], "AgentState_SetNotReady_Success")
		if m := p.metric(t, `ccgw_events_dropped_total{reason="fault"}`); m == "" || strings.HasSuffix(m, " 0") {
			t.Errorf("metric %q", m)
		}
	})
}

// TestWorkbenchScenarioFaults: a scenario's faults start at their time on the
// virtual clock; a bad one stops the start, naming its field.
func TestWorkbenchScenarioFaults(t *testing.T) { onEveryStore(t, testWorkbenchScenarioFaults) }

func testWorkbenchScenarioFaults(t *testing.T, store string) {
	dir := t.TempDir()
	file := dir + "/faults.yaml"
	writeFile(t, file, `skills: [{id: 1, name: Sales}]
faults:
  - {at: 1m, kind: unavailable, agents: ["1001"], interfaces: [handShake], duration: 1m}
`)
	p := startGatewayOn(t, store, "--scenario", file, "--heartbeat-timeout", "1h")
	g, _ := p.signIn(t, "1001", "")
	var list struct {
		Faults []wbFault `json:"faults"`
	}
	p.admin(t, http.MethodGet, "faults", "", &list)
	if len(list.Faults) != 1 || list.Faults[0].End-list.Faults[0].Start != 60000 {
		t.Fatalf("faults %+v", list)
	}
	if got := p.handshake(t, "1001", g); got != "0" {
		t.Fatalf("handshake before the fault %s", got)
	}
	var clk json.RawMessage
	p.admin(t, http.MethodPost, "clock/advance", `{"duration":"1m"}`, &clk)
	if got := p.handshake(t, "1001", g); got != "100-007" {
		t.Fatalf("handshake during the fault %s, want 100-007", got)
	}
	p.admin(t, http.MethodPost, "clock/advance", `{"duration":"1m"}`, &clk)
	if got := p.handshake(t, "1001", g); got != "0" {
		t.Fatalf("handshake after the fault %s", got)
	}

	bad := dir + "/bad.yaml"
	writeFile(t, bad, "skills: [{id: 1, name: Sales}]\nfaults: [{kind: slow, delay: 1m}]\n")
	cmdOut := runBinary(t, "--plaintext", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--data", t.TempDir(), "--scenario", bad)
	if !strings.Contains(cmdOut, "faults[0].delay") {
		t.Fatalf("a bad fault: %s", cmdOut)
	}
}

func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// runBinary runs ccgw with args, which must make it exit (a refused start),
// and returns what it wrote; it fails tb if ccgw exits 0 or runs for 30s.
func runBinary(tb testing.TB, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		tb.Fatalf("ccgw %q: %v (%v), want a refused start:\n%s", args, err, ctx.Err(), out)
	}
	return string(out)
}
