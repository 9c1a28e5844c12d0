package api

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/faults"
	"github.com/ccgw/ccgw/internal/report"
)

// TestOpenAPIAnswersWorkbench validates the workbench's answers against the
// document, as TestOpenAPIAnswers does for the rest: the client report with
// findings raised by real requests (paged, bad after and limit), a client's
// findings and request journal (an agent not seen: 404; a bad work number:
// 000-002), faults added (every way of saying when, agents as numbers too),
// listed and removed, bodies the document and the gateway both refuse, 100
// faults held (409), a body over 64 KiB (413), a wrong method (405), and with
// an admin token a request without it (401).
func TestOpenAPIAnswersWorkbench(t *testing.T) {
	doc := oaDoc(t)
	ops := oaOps(t, doc)
	v := oaValidator{doc: doc}
	s := oaServer(t)
	admin := s.AdminHandler()
	send := func(h http.Handler, method, path, body string, hdr map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		for k, val := range hdr {
			req.Header.Set(k, val)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	// check sends an admin request and validates it (reqBody, unless "") and
	// its answer against the operation key; the answer's retcode must be
	// want. It returns the answer's result.
	check := func(key, path, body, reqBody string, want ccgw.Retcode) json.RawMessage {
		t.Helper()
		method, _, _ := strings.Cut(key, " ")
		rec := send(admin, method, path, body, nil)
		oaCheck(t, v, ops, key, reqBody, rec)
		var env struct {
			Retcode ccgw.Retcode    `json:"retcode"`
			Result  json.RawMessage `json:"result"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &env); env.Retcode != want {
			t.Errorf("%s %s %s: retcode %q, want %q: %s", key, path, body, env.Retcode, want, rec.Body)
		}
		return env.Result
	}
	ok := func(key, path, body string, out any) {
		t.Helper()
		res := check(key, path, body, body, ccgw.RetOK)
		if out != nil {
			if err := json.Unmarshal(res, out); err != nil {
				t.Fatalf("%s %s: result %s: %v", key, path, res, err)
			}
		}
	}
	vendor := func(method, path, guid, body, ctype string) string {
		t.Helper()
		rec := send(s, method, "/agentgateway/resource"+path, body, map[string]string{"Guid": guid, "Content-Type": ctype})
		var env struct {
			Retcode ccgw.Retcode `json:"retcode"`
		}
		json.Unmarshal(rec.Body.Bytes(), &env)
		return string(env.Retcode)
	}
	const jsonType = "application/json"
	signIn := func(id string) string {
		t.Helper()
		rec := send(s, http.MethodPut, "/agentgateway/resource/onlineagent/"+id,
			`{"password":"secret","phonenum":"7`+id+`"}`, map[string]string{"Content-Type": jsonType})
		var g string
		if h := rec.Header()["Set-GUID"]; len(h) == 1 { // as spelled, not canonical
			g = strings.TrimPrefix(h[0], "JSESSIONID=")
		}
		if g == "" {
			t.Fatalf("sign-in %s: %s", id, rec.Body)
		}
		return g
	}

	// Findings: legacy-interface (PUT …/heartbeat) and wrong-content-type
	// (a body not JSON); a path no interface has, journaled as "unknown".
	g := signIn("1001")
	signIn("1002")
	if c := vendor(http.MethodPut, "/onlineagent/1001/heartbeat", g, "", ""); c != "0" {
		t.Fatalf("heartBeat: %s", c)
	}
	if c := vendor(http.MethodPost, "/onlineagent/1001/handshake", g, "hello", "text/plain"); c != "0" {
		t.Fatalf("handShake: %s", c)
	}
	vendor(http.MethodGet, "/onlineagent/1001/nothing", g, "", "")

	const clients = "GET /ccgw/v1/clients"
	var list struct {
		Clients []report.Summary `json:"clients"`
		Next    string           `json:"next"`
	}
	ok(clients, "/ccgw/v1/clients", "", &list)
	if len(list.Clients) != 2 || list.Next != "" || list.Clients[0].Agent != "1001" ||
		list.Clients[0].Findings[report.LegacyInterface] != 1 || list.Clients[0].Findings[report.WrongContentType] != 1 {
		t.Errorf("clients: %+v", list)
	}
	ok(clients, "/ccgw/v1/clients?limit=1", "", &list)
	if len(list.Clients) != 1 || list.Next != "1001" {
		t.Errorf("clients?limit=1: %+v", list)
	}
	ok(clients, "/ccgw/v1/clients?after=1001&limit=1000", "", &list)
	if len(list.Clients) != 1 || list.Clients[0].Agent != "1002" || list.Next != "" {
		t.Errorf("clients?after=1001: %+v", list)
	}
	for _, q := range []string{"after=x", "after=100", "limit=0", "limit=1001", "limit=x"} {
		check(clients, "/ccgw/v1/clients?"+q, "", "", ccgw.RetBadParam)
	}

	const client = "GET /ccgw/v1/clients/{agentid}"
	var detail report.Detail
	ok(client, "/ccgw/v1/clients/1001", "", &detail)
	if len(detail.Findings) != 2 {
		t.Errorf("client 1001: %+v", detail)
	}
	ok(client, "/ccgw/v1/clients/1002", "", &detail)
	if detail.Agent != "1002" || len(detail.Findings) != 0 {
		t.Errorf("client 1002: %+v", detail)
	}
	check(client, "/ccgw/v1/clients/1009", "", "", ccgw.RetBadParam) // not seen: 404
	check(client, "/ccgw/v1/clients/abc", "", "", ccgw.RetBadParam)

	const requests = "GET /ccgw/v1/clients/{agentid}/requests"
	var journal struct {
		Requests []report.Entry `json:"requests"`
	}
	ok(requests, "/ccgw/v1/clients/1001/requests", "", &journal)
	var methods []string
	for _, e := range journal.Requests {
		methods = append(methods, e.HTTP+" "+e.Method+" "+e.Path)
	}
	if want := []string{
		"PUT login /agentgateway/resource/onlineagent/1001",
		"PUT heartBeat /agentgateway/resource/onlineagent/1001/heartbeat",
		"POST handShake /agentgateway/resource/onlineagent/1001/handshake",
		"GET unknown /agentgateway/resource/onlineagent/1001/nothing",
	}; !slices.Equal(methods, want) {
		t.Errorf("journal of 1001:\n%s\nwant\n%s", strings.Join(methods, "\n"), strings.Join(want, "\n"))
	}
	check(requests, "/ccgw/v1/clients/1009/requests", "", "", ccgw.RetBadParam)
	check(requests, "/ccgw/v1/clients/0/requests", "", "", ccgw.RetBadParam)

	// Faults: added, listed, removed.
	const (
		listFaults = "GET /ccgw/v1/faults"
		add        = "POST /ccgw/v1/faults"
		remove     = "DELETE /ccgw/v1/faults/{id}"
	)
	now := s.cfg.Clock.Now().UnixMilli()
	var f faultJSON
	ok(add, "/ccgw/v1/faults", `{"kind":"slow","agents":["1001",1002],"interfaces":["handShake"],"duration":"30s","delay":"2s"}`, &f)
	if f.ID != "f1" || f.Delay != "2s" || f.Start != now || f.End != now+30000 || !slices.Equal(f.Agents, []string{"1001", "1002"}) {
		t.Errorf("slow fault: %+v", f)
	}
	ok(add, "/ccgw/v1/faults", `{"kind":"unavailable","at":"10s"}`, &f)
	if f.Start != now+10000 || f.End != 0 || len(f.Agents) != 0 || len(f.Interfaces) != 0 {
		t.Errorf("unavailable fault: %+v", f)
	}
	ok(add, "/ccgw/v1/faults", fmt.Sprintf(`{"kind":"drop-events","agents":["1002"],"start":"%d"}`, now+5000), &f)
	ok(add, "/ccgw/v1/faults", `{"kind":"dr-switchover","interfaces":["getAgentEvent","sayBusy"],"at":"1m","duration":"1h"}`, nil)
	ok(add, "/ccgw/v1/faults", `{"kind":"guid-expiry","agents":["1001"],"start":0}`, nil)
	ok(add, "/ccgw/v1/faults", `{"kind":"force-signout","agents":["1002"]}`, nil) // signs 1002 out now
	var held struct {
		Faults []faultJSON `json:"faults"`
	}
	ok(listFaults, "/ccgw/v1/faults", "", &held)
	var kinds []faults.Kind
	for _, x := range held.Faults {
		kinds = append(kinds, faults.Kind(x.Kind))
	}
	if slices.Sort(kinds); !slices.Equal(kinds, slices.Sorted(slices.Values(faults.Kinds))) || held.Faults[0].Delay != "2s" {
		t.Errorf("faults: %+v", held.Faults)
	}
	ok(remove, "/ccgw/v1/faults/f1", "", nil)
	check(remove, "/ccgw/v1/faults/f1", "", "", ccgw.RetBadParam) // not held: 404
	check(remove, "/ccgw/v1/faults/nothing", "", "", ccgw.RetBadParam)
	ok(listFaults, "/ccgw/v1/faults", "", &held)
	if len(held.Faults) != len(faults.Kinds)-1 {
		t.Errorf("after DELETE f1: %+v", held.Faults)
	}

	// Bodies the gateway refuses (000-002, HTTP 200); those marked are
	// refused by the document's request schema too.
	body := v.resolve(ops[add].op["requestBody"].(map[string]any))["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
	for _, tc := range []struct {
		body   string
		schema bool // the schema refuses it
	}{
		{`{"kind":"slow","delay":"2s","color":"red"}`, true},
		{`{"kind":"meteor"}`, true},
		{`{"delay":"2s"}`, true},
		{`{"kind":"unavailable","interfaces":[1]}`, true},
		{`{"kind":"unavailable","agents":[true]}`, true},
		{`{"kind":"unavailable","duration":30}`, true},
		{`{"kind":"slow"}`, false},
		{`{"kind":"slow","delay":"31s"}`, false},
		{`{"kind":"unavailable","delay":"1s"}`, false},
		{`{"kind":"unavailable","agents":["100"]}`, false},
		{`{"kind":"unavailable","interfaces":["nothing"]}`, false},
		{`{"kind":"unavailable","duration":"25h"}`, false},
		{`{"kind":"unavailable","duration":"-1s"}`, false},
		{`{"kind":"unavailable","at":"10s","start":1}`, false},
		{`{"kind":"force-signout","interfaces":["handShake"]}`, false},
		{`{"kind":"unavailable"} {}`, false},
	} {
		check(add, "/ccgw/v1/faults", tc.body, "", ccgw.RetBadParam)
		if refused := len(v.validate(body, oaDecodeAny(tc.body), "request")) > 0; tc.schema && !refused {
			t.Errorf("the document's FaultBody takes %s, which the gateway refuses", tc.body)
		}
	}

	// 100 held: 409.
	for range faults.MaxHeld - len(held.Faults) {
		ok(add, "/ccgw/v1/faults", `{"kind":"unavailable","at":"1h"}`, nil)
	}
	rec := send(admin, http.MethodPost, "/ccgw/v1/faults", `{"kind":"unavailable"}`, nil)
	if rec.Code != http.StatusConflict {
		t.Errorf("fault %d: HTTP %d %s, want 409", faults.MaxHeld+1, rec.Code, rec.Body)
	}
	oaCheck(t, v, ops, add, `{"kind":"unavailable"}`, rec)
	rec = send(admin, http.MethodPost, "/ccgw/v1/faults", `{"kind":"slow","x":"`+strings.Repeat("x", maxBody)+`"}`, nil)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over 64 KiB: HTTP %d %s, want 413", rec.Code, rec.Body)
	}
	oaCheck(t, v, ops, add, "", rec)
	rec = send(admin, http.MethodPut, "/ccgw/v1/faults", "{}", nil)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("PUT /ccgw/v1/faults: HTTP %d, want 405", rec.Code)
	}
	oaCheck(t, v, ops, listFaults, "", rec)

	// With an admin token, a request without it: 401 and 000-003.
	sum := sha256.Sum256([]byte("a token of sixteen or more"))
	s.adminToken = sum[:]
	for key, path := range map[string]string{clients: "/ccgw/v1/clients", client: "/ccgw/v1/clients/1001",
		requests: "/ccgw/v1/clients/1001/requests", listFaults: "/ccgw/v1/faults", add: "/ccgw/v1/faults",
		remove: "/ccgw/v1/faults/f2"} {
		method, _, _ := strings.Cut(key, " ")
		rec := send(admin, method, path, `{"kind":"unavailable"}`, nil)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s without the token: HTTP %d, want 401", key, rec.Code)
		}
		oaCheck(t, v, ops, key, "", rec)
	}
}

// oaDecodeAny decodes b as oaDecode does, or returns nil if it is not one
// JSON value (which no object schema takes).
func oaDecodeAny(b string) any {
	var out any
	dec := json.NewDecoder(strings.NewReader(b))
	dec.UseNumber()
	if dec.Decode(&out) != nil || dec.More() {
		return nil
	}
	return out
}

// TestOpenAPIFindings: every finding code, raised with its evidence by a
// scripted client (as report's TestEvidence does), is valid against the
// document's Finding; FindingCode lists exactly the report's codes and
// FaultKind exactly the faults' kinds.
func TestOpenAPIFindings(t *testing.T) {
	doc := oaDoc(t)
	ops := oaOps(t, doc)
	v := oaValidator{doc: doc}
	fc := clock.NewVirtual(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	rep := report.New(report.Config{PollTimeout: 2 * time.Minute, PushTimeout: 2 * time.Minute, Clock: fc})
	now := fc.Now()
	sleep := func(d time.Duration) { now = now.Add(d); fc.Set(now) }
	do := func(method string, code ccgw.Retcode, set func(*report.Request)) {
		q := report.Request{Agent: 1001, Method: method, HTTP: http.MethodPost, Code: code, Status: http.StatusOK,
			Start: now, Took: 2 * time.Millisecond}
		if set != nil {
			set(&q)
		}
		rep.Observe(&q)
		sleep(q.Took)
	}
	guids := func(presented, set string) func(*report.Request) {
		return func(q *report.Request) { q.GUID, q.SetGUID = presented, set }
	}
	do("login", ccgw.RetOK, guids("", "G1"))
	do("handShake", ccgw.RetOK, guids("G1", "G2"))
	sleep(2 * time.Second)
	do("handShake", ccgw.RetOK, guids("G1", "G2")) // stale-guid
	sleep(90 * time.Second)
	do("handShake", ccgw.RetNoPermission, guids("G1", "")) // late-heartbeat
	for range 5 {
		do("handShake", ccgw.RetNoPermission, guids("G1", "")) // hammering
	}
	sleep(time.Minute)
	rep.SignedOut(1001, ccgw.CauseSupervisor)
	for range 4 {
		sleep(time.Second)
		do("getAgentEvent", ccgw.RetNotSignedIn, nil) // calls-after-signout
	}
	do("login", ccgw.RetOK, func(q *report.Request) {
		q.SetGUID, q.Body, q.ContentType, q.PushURL, q.Push = "G5", true, "text/plain", true, true // wrong-content-type, legacy-interface
	})
	do("heartBeat", ccgw.RetOK, nil)
	for range 4 {
		do("getAgentEvent", ccgw.RetOK, func(q *report.Request) { q.EmptyPoll = true }) // poll-too-fast
	}

	d, found := rep.Client(1001)
	if !found {
		t.Fatal("1001 not tracked")
	}
	var got []report.Code
	for _, f := range d.Findings {
		got = append(got, f.Code)
	}
	codes := slices.Sorted(maps.Keys(rep.Raised()))
	if slices.Sort(got); !slices.Equal(got, codes) {
		t.Fatalf("findings %v, want every code %v", got, codes)
	}
	res := ops["GET /ccgw/v1/clients/{agentid}"].op["responses"].(map[string]any)["200"].(map[string]any)
	schema := res["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
	body, err := json.Marshal(envelope{Message: "success", Retcode: ccgw.RetOK, Result: d})
	if err != nil {
		t.Fatal(err)
	}
	if errs := v.validate(schema, oaDecodeAny(string(body)), "body"); len(errs) > 0 {
		t.Errorf("%s:\n%s", body, strings.Join(errs, "\n"))
	}

	enum := func(name string) []string {
		var out []string
		for _, e := range v.resolve(map[string]any{"$ref": "#/components/schemas/" + name})["enum"].([]any) {
			out = append(out, e.(string))
		}
		return slices.Sorted(slices.Values(out))
	}
	var want []string
	for _, c := range codes {
		want = append(want, string(c))
	}
	if got := enum("FindingCode"); !slices.Equal(got, want) {
		t.Errorf("FindingCode %v, want %v", got, want)
	}
	want = want[:0]
	for _, k := range faults.Kinds {
		want = append(want, string(k))
	}
	if got := enum("FaultKind"); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("FaultKind %v, want %v", got, want)
	}
}
