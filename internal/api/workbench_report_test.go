package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/api"
	"github.com/ccgw/ccgw/internal/faults"
	"github.com/ccgw/ccgw/internal/report"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
	"github.com/ccgw/ccgw/internal/wait"
)

// TestWorkbenchClients: a client that ignores Set-GUID in dynamic mode, then
// hammers after its GUID is refused, and sends a body that is not JSON, shows
// those findings, with their evidence, at GET /ccgw/v1/clients and
// /clients/{agentid}; nothing the admin API answers holds a GUID.
func TestWorkbenchClients(t *testing.T) {
	ws := wbNewServer(t)
	g1 := ws.mustLogin(t, "1001")
	ws.advance(61 * time.Second) // the GUID is due for rotation
	r := ws.hs(t, "1001", g1)
	mustCode(t, r, "0")
	g2 := setGUID(r)
	if g2 == "" || g2 == g1 {
		t.Fatalf("no rotation: Set-GUID %q", r.header.Get("Set-GUID"))
	}
	told := ws.wall.Now()
	for range 2 { // the client goes on with the old GUID
		ws.wall.Advance(5 * time.Second)
		ws.advance(5 * time.Second)
		if r := ws.hs(t, "1001", g1); r.retcode() != "0" || setGUID(r) != g2 {
			t.Fatalf("old GUID within GUIDTIMEOUT: %s, Set-GUID %q", r.body, r.header.Get("Set-GUID"))
		}
	}
	ws.advance(2 * time.Minute) // beyond GUIDTIMEOUT: refused
	ws.wall.Advance(time.Minute)
	for range 6 { // and retried at once
		mustCode(t, ws.hs(t, "1001", g1), "000-003")
	}
	ws.do(t, http.MethodPost, pathHandShake("1001"), hdr{"Guid": g2, "Content-Type": "text/plain"}, "hello")

	var list struct {
		Clients []report.Summary `json:"clients"`
		Next    string           `json:"next"`
	}
	ws.wbAdmin(t, http.MethodGet, "clients", "", &list)
	// stale-guid: 2 presentations after Set-GUID and 6 refusals.
	want := map[report.Code]uint64{report.StaleGUID: 8, report.Hammering: 1, report.WrongContentType: 1}
	if len(list.Clients) != 1 || list.Next != "" {
		t.Fatalf("clients %+v", list)
	}
	if s := list.Clients[0]; s.Agent != "1001" || s.Requests != 11 || s.LastSeen != ws.wall.Now().UnixMilli() ||
		fmt.Sprint(s.Findings) != fmt.Sprint(want) {
		t.Fatalf("summary %+v, want findings %v and 11 requests", s, want)
	}

	var d report.Detail
	r = ws.wbAdmin(t, http.MethodGet, "clients/1001", "", &d)
	var codes []report.Code
	for _, f := range d.Findings {
		codes = append(codes, f.Code)
		if f.Explanation == "" || f.Vendor == "" || f.Count != want[f.Code] || f.First == 0 {
			t.Errorf("finding %+v", f)
		}
	}
	if !slices.Equal(codes, []report.Code{report.StaleGUID, report.Hammering, report.WrongContentType}) {
		t.Errorf("codes %v", codes)
	}
	ev := d.Findings[0].Evidence
	if ev["setGuidAt"] != float64(told.UnixMilli()) || ev["presentedAfterSetGuid"] != float64(2) || ev["refused"] != float64(6) {
		t.Errorf("stale-guid evidence %v", ev)
	}
	if ev := d.Findings[2].Evidence; ev["contentType"] != "text/plain" {
		t.Errorf("wrong-content-type evidence %v", ev)
	}
	for _, b := range [][]byte{r.body, ws.admin.do(t, http.MethodGet, api.AdminPrefix+"clients/1001/requests", nil, "").body} {
		for _, g := range []string{g1, g2, g1[:8], g2[:8]} {
			if strings.Contains(string(b), g) {
				t.Fatalf("admin answer shows a GUID: %s", b)
			}
		}
	}

	ws.wbAdminErr(t, http.MethodGet, "clients/1002", "", http.StatusNotFound)
	ws.wbAdminErr(t, http.MethodGet, "clients/1002/requests", "", http.StatusNotFound)
	ws.wbAdminErr(t, http.MethodGet, "clients/abc", "", http.StatusOK)
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "after=abc", "after=99"} {
		ws.wbAdminErr(t, http.MethodGet, "clients?"+q, "", http.StatusOK)
	}
	adminNotAllowedWB(t, ws, http.MethodPost, "clients", "GET")
}

func adminNotAllowedWB(t *testing.T, ws *wbServer, method, path, allow string) {
	t.Helper()
	ws.wbAdminErr(t, method, path, "", http.StatusMethodNotAllowed)
	if r := ws.admin.do(t, method, api.AdminPrefix+path, nil, ""); r.header.Get("Allow") != allow {
		t.Fatalf("%s %s: Allow %q, want %q", method, path, r.header.Get("Allow"), allow)
	}
}

// TestWorkbenchClientsPaging pages the summary by work number.
func TestWorkbenchClientsPaging(t *testing.T) {
	ws := wbNewServer(t)
	for _, id := range []string{"1003", "1001", "1002"} {
		ws.mustLogin(t, id)
	}
	var seen []string
	after := ""
	for range 3 {
		var page struct {
			Clients []report.Summary `json:"clients"`
			Next    string           `json:"next"`
		}
		ws.wbAdmin(t, http.MethodGet, "clients?limit=2&after="+after, "", &page)
		for _, s := range page.Clients {
			seen = append(seen, s.Agent)
		}
		if after = page.Next; after == "" {
			break
		}
	}
	if got := strings.Join(seen, ","); got != "1001,1002,1003" {
		t.Fatalf("pages gave %s", got)
	}
}

// TestWorkbenchJournal: the last N requests of an agent, oldest first, with
// the agent's path and no query string, GUID or body; a path no interface has
// is journaled under the agent it names.
func TestWorkbenchJournal(t *testing.T) {
	ws := wbNewServer(t)
	g := ws.mustLogin(t, "1001")
	ws.wall.Advance(time.Second)
	ws.do(t, http.MethodPost, pathHandShake("1001")+"?token=s3cr3t-value", guidHdr(g), "")
	ws.wall.Advance(time.Second)
	ws.do(t, http.MethodPost, base+"/onlineagent/1001/rest/600/1", guidHdr(g), "")
	ws.do(t, http.MethodGet, base+"/onlineagent/1001/notifybulletin?x=1", guidHdr(g), "")
	ws.do(t, http.MethodGet, pathStatus("1001"), guidHdr(g), "")
	ws.do(t, http.MethodDelete, pathLogout("1001"), guidHdr(g), "")
	var res struct {
		Requests []report.Entry `json:"requests"`
	}
	r := ws.wbAdmin(t, http.MethodGet, "clients/1001/requests", "", &res)
	at := clStart.UnixMilli()
	want := []report.Entry{ // 6 requests, 5 kept: the sign-in fell out
		{Time: at + 1000, Method: "handShake", HTTP: "POST", Path: base + "/onlineagent/1001/handshake", Retcode: "0", Status: 200},
		{Time: at + 2000, Method: "rest", HTTP: "POST", Path: base + "/onlineagent/1001/rest/600/1", Retcode: "0", Status: 200},
		{Time: at + 2000, Method: "unknown", HTTP: "GET", Path: base + "/onlineagent/1001/notifybulletin", Retcode: "000-002", Status: 404},
		{Time: at + 2000, Method: "getAgentStatus", HTTP: "GET", Path: base + "/onlineagent/1001/agentstatus", Retcode: "0", Status: 200},
		{Time: at + 2000, Method: "logout", HTTP: "DELETE", Path: base + "/onlineagent/1001/logout", Retcode: "0", Status: 200},
	}
	if !slices.Equal(res.Requests, want) {
		t.Fatalf("journal\n%+v\nwant\n%+v", res.Requests, want)
	}
	if b := string(r.body); strings.Contains(b, "s3cr3t") || strings.Contains(b, g[:8]) || strings.Contains(b, "password") {
		t.Fatalf("journal shows a secret: %s", b)
	}
	mustKeys(t, "journal entry", r.object(t, "result"), "requests")
}

// TestWorkbenchObserveAllocs: with the report and faults on (none held), a
// heartbeat allocates as often as without them.
func TestWorkbenchObserveAllocs(t *testing.T) {
	st, err := bolt.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sm, err := session.New(session.Config{SessionSettings: ccgw.SessionSettings{Directory: agent.Default()}, Store: mem.NewShared(), Local: true})
	if err != nil {
		t.Fatal(err)
	}
	// Running, as cmd/ccgw runs it: heartbeats answered from its cache, so
	// that the count compares the handler's allocations, not a store read's.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sm.Run(ctx) }()
	defer func() { cancel(); <-done }()
	wait.For(t, 30*time.Second, time.Millisecond, func() error {
		if !sm.Cached() {
			return errors.New("the auth cache is not on")
		}
		return nil
	})
	s, err := sm.SignIn(context.Background(), ccgw.SignIn{Op: "login", Password: "pw", Status: ccgw.StateIdle,
		Session: ccgw.Session{Agent: 1001, Phone: "70001", IP: "127.0.0.1", MediaType: "TTF"}})
	if err != nil {
		t.Fatal(err)
	}
	plain := api.New(api.Config{Sessions: sm, Directory: agent.Default()})
	wb := api.New(api.Config{Sessions: sm, Directory: agent.Default(), Report: report.New(report.Config{}),
		Faults: faults.New(faults.Config{Interfaces: api.Interfaces()})})
	allocs := func(h http.Handler) float64 {
		req, _ := http.NewRequest(http.MethodPost, pathHandShake("1001"), nil)
		req.Header.Set("Guid", s.GUID)
		w := &nopWriter{h: http.Header{}}
		h.ServeHTTP(w, req) // the agent's first request makes its record
		return testing.AllocsPerRun(200, func() {
			clear(w.h)
			h.ServeHTTP(w, req)
		})
	}
	if a, b := allocs(plain), allocs(wb); a != b {
		t.Fatalf("a heartbeat allocates %v times with the workbench, %v without", b, a)
	}
}

// nopWriter is an http.ResponseWriter that keeps nothing.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) WriteHeader(int)             {}
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestWorkbenchJournalLongPath: a path no route has is journaled cut to 256
// bytes.
func TestWorkbenchJournalLongPath(t *testing.T) {
	ws := wbNewServer(t)
	long := base + "/onlineagent/1001/" + strings.Repeat("x", 300)
	if r := ws.do(t, http.MethodGet, long, nil, ""); r.status != http.StatusNotFound {
		t.Fatalf("HTTP %d %s", r.status, r.body)
	}
	var res struct {
		Requests []report.Entry `json:"requests"`
	}
	ws.wbAdmin(t, http.MethodGet, "clients/1001/requests", "", &res)
	if len(res.Requests) != 1 || res.Requests[0].Path != long[:256]+"…" || res.Requests[0].Status != 404 {
		t.Fatalf("journal %+v", res.Requests)
	}
}
