package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/faults"
	"github.com/ccgw/ccgw/internal/report"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/sim"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// The OpenAPI document (openapi.json) is held to the route tables both ways and
// to real answers, through a validator of the subset of JSON Schema it uses.

// oaMethods are the operation keys of an OpenAPI path item.
var oaMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

// oaExtra are the documented paths that no route table holds: the health
// checks, the metrics and the web console, answered before routing.
var oaExtra = map[string]string{"GET /healthz": "healthz", "GET /readyz": "readyz", "GET /metrics": "metrics",
	"GET /": "console", "GET /console/{asset}": "console.asset", "POST /console/login": "console.login",
	"POST /console/logout": "console.logout"}

// oaDoc parses the embedded document, numbers as json.Number.
func oaDoc(t *testing.T) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(openAPI))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if dec.More() {
		t.Fatal("openapi.json: more than one JSON value")
	}
	return doc
}

// oaOp is a documented operation.
type oaOp struct {
	path, method string // method in upper case
	op           map[string]any
}

// oaOps returns the document's operations by "METHOD /path".
func oaOps(t *testing.T, doc map[string]any) map[string]oaOp {
	t.Helper()
	ops := map[string]oaOp{}
	paths, _ := doc["paths"].(map[string]any)
	if len(paths) == 0 {
		t.Fatal("no paths")
	}
	for p, item := range paths {
		for _, m := range oaMethods {
			if o, ok := item.(map[string]any)[m].(map[string]any); ok {
				ops[strings.ToUpper(m)+" "+p] = oaOp{p, strings.ToUpper(m), o}
			}
		}
	}
	return ops
}

// oaRoutes returns every route of oaServer's tables (every optional feature
// on) by "METHOD /pattern".
func oaRoutes(t *testing.T) map[string]*route {
	t.Helper()
	s := oaServer(t)
	out := map[string]*route{}
	for _, tbl := range []routeTable{s.routes, s.adminRoutes} {
		for _, rs := range tbl.byKey {
			for _, rt := range rs {
				out[rt.method+" /"+strings.Join(rt.segs, "/")] = rt
			}
		}
	}
	return out
}

// oaNoRoute are the fields of Config and Admin that switch on no route, and
// so may be left zero in oaServer, with why. Every other field must be set
// there (TestOpenAPIServerHasEveryFeature): a new optional feature is then on
// in the server whose routes the document is held to.
var oaNoRoute = map[string]string{
	"Config.PollWait":       "how long an empty poll is held (PollAtOnce: not at all)",
	"Config.AdminToken":     "a credential on every admin path; the console's sign-in answers with or without one (oaExtra)",
	"Config.AdminLocalOnly": "refuses Hosts that are not local",
	"Config.CheckCallback":  "judges a sign-in's callback URL",
	"Config.Lockout":        "counts wrong passwords",
	"Config.Observe":        "is told of each request",
	"Config.MaxPollsPerIP":  "a limit",
	"Config.WriteTimeout":   "extends a held poll's deadlines",
	"Admin.MaxStreams":      "a limit (DefaultMaxStreams)",
	"Admin.StreamPing":      "a stream's idle comment (DefaultStreamPing)",
}

// TestOpenAPIServerHasEveryFeature: oaServer switches on every field of
// Config and Admin that oaNoRoute does not excuse, and every route its tables
// can hold: the live sessions' list needs a session service that lists them.
func TestOpenAPIServerHasEveryFeature(t *testing.T) {
	s := oaServer(t)
	seen := map[string]bool{}
	for _, x := range []struct {
		name string
		v    reflect.Value
	}{{"Config", reflect.ValueOf(s.cfg)}, {"Admin", reflect.ValueOf(s.cfg.Admin).Elem()}} {
		for i := range x.v.NumField() {
			f := x.v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			name := x.name + "." + f.Name
			seen[name] = true
			if _, excused := oaNoRoute[name]; !excused && x.v.Field(i).IsZero() {
				t.Errorf("%s is off in oaServer: switch it on there, or say in oaNoRoute why it serves no route", name)
			}
		}
	}
	for name := range oaNoRoute {
		if !seen[name] {
			t.Errorf("oaNoRoute names %s, which is no field", name)
		}
	}
	if _, ok := s.cfg.Sessions.(agentLister); !ok {
		t.Error("oaServer's sessions do not list agents: GET /ccgw/v1/agents is not routed")
	}
}

// TestOpenAPIDocument checks that openapi.json is OpenAPI 3.1 JSON and matches
// the route tables both ways: every route is documented with its method, path
// (variables included) and name as operationId, tagged vendor or admin, a
// vendor one linking the vendor's page; nothing is documented that no route
// or the admin handler's fixed paths serve.
func TestOpenAPIDocument(t *testing.T) {
	doc := oaDoc(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi %q, want 3.1.x", v)
	}
	ops := oaOps(t, doc)
	routes := oaRoutes(t)
	for k, rt := range routes {
		o, ok := ops[k]
		if !ok {
			t.Errorf("route %s (%s) is not documented", k, rt.name)
			continue
		}
		if id, _ := o.op["operationId"].(string); id != rt.name {
			t.Errorf("%s: operationId %q, want %q", k, id, rt.name)
		}
		admin := strings.HasPrefix(o.path, adminPath+"/")
		wantTag := map[bool]string{true: "admin", false: "vendor"}[admin]
		if tags, _ := o.op["tags"].([]any); len(tags) != 1 || tags[0] != wantTag {
			t.Errorf("%s: tags %v, want [%s]", k, tags, wantTag)
		}
		if !admin {
			ext, _ := o.op["externalDocs"].(map[string]any)
			if u, _ := ext["url"].(string); !strings.HasPrefix(u, "https://support.huaweicloud.com/") {
				t.Errorf("%s: externalDocs url %q", k, u)
			}
		}
		var vars []string
		for _, seg := range rt.segs {
			if strings.HasPrefix(seg, "{") {
				vars = append(vars, strings.Trim(seg, "{}"))
			}
		}
		if got := oaPathParams(doc, o.op); !slices.Equal(got, vars) {
			t.Errorf("%s: path parameters %v, want %v", k, got, vars)
		}
		if desc, _ := o.op["description"].(string); !strings.Contains(desc, "Retcodes:") {
			t.Errorf("%s: the description lists no retcodes", k)
		}
		if _, ok := o.op["responses"].(map[string]any)["200"]; !ok {
			t.Errorf("%s: no 200 response", k)
		}
	}
	for k, o := range ops {
		if _, ok := routes[k]; ok {
			continue
		}
		if name, ok := oaExtra[k]; !ok || o.op["operationId"] != name {
			t.Errorf("documented %s (%v) is not routed", k, o.op["operationId"])
		}
	}
	ids := map[string]string{}
	for k, o := range ops {
		id, _ := o.op["operationId"].(string)
		if prev, dup := ids[id]; dup {
			t.Errorf("operationId %q on %s and %s", id, prev, k)
		}
		ids[id] = k
	}
	if len(routes) < 60 {
		t.Fatalf("only %d routes: is a table missing from oaServer?", len(routes))
	}
	// Every schema keeps to what oaValidate checks, and every retcode it
	// allows is one ccgw knows.
	v := oaValidator{doc: doc}
	v.walk(t, doc, "#")
	codes, _ := v.resolve(map[string]any{"$ref": "#/components/schemas/Retcode"})["enum"].([]any)
	for _, c := range codes {
		if s, _ := c.(string); !ccgw.Retcode(s).Known() {
			t.Errorf("Retcode enum: %v is not a retcode", c)
		}
	}
	if len(codes) == 0 {
		t.Error("Retcode has no enum")
	}
}

// oaPathParams returns the names of op's path parameters, in order.
func oaPathParams(doc map[string]any, op map[string]any) []string {
	v := oaValidator{doc: doc}
	var out []string
	params, _ := op["parameters"].([]any)
	for _, p := range params {
		pm := v.resolve(p.(map[string]any))
		if pm["in"] == "path" {
			out = append(out, pm["name"].(string))
		}
	}
	return out
}

// oaValidator checks JSON values against the document's schemas: type (a name
// or a list), properties, required, additionalProperties (false or a schema),
// items, enum, const, oneOf and $ref into the document. Annotations are
// ignored; any other keyword is an error, so that the document cannot promise
// what the test does not check.
type oaValidator struct{ doc map[string]any }

// oaAnnotations are keywords that describe without constraining what the test checks.
var oaAnnotations = map[string]bool{"description": true, "title": true, "format": true, "example": true,
	"examples": true, "default": true, "minimum": true, "maximum": true, "minLength": true, "maxLength": true,
	"pattern": true, "deprecated": true}

// resolve follows m's $ref, if any, within the document.
func (v oaValidator) resolve(m map[string]any) map[string]any {
	for i := 0; i < 10; i++ {
		r, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		var cur any = v.doc
		for _, part := range strings.Split(strings.TrimPrefix(r, "#/"), "/") {
			cur, _ = cur.(map[string]any)[part]
		}
		next, ok := cur.(map[string]any)
		if !ok {
			panic("openapi: unresolved $ref " + r)
		}
		m = next
	}
	panic("openapi: $ref loop")
}

// walk checks every schema under node (at "schema" keys and in
// components.schemas) for keywords oaValidate does not know.
func (v oaValidator) walk(t *testing.T, node any, at string) {
	t.Helper()
	switch n := node.(type) {
	case map[string]any:
		for k, c := range n {
			switch {
			case k == "schema":
				v.checkKeywords(t, c, at+"/schema")
			case k == "schemas" && strings.HasSuffix(at, "/components"):
				for name, s := range c.(map[string]any) {
					v.checkKeywords(t, s, at+"/schemas/"+name)
				}
			default:
				v.walk(t, c, at+"/"+k)
			}
		}
	case []any:
		for i, c := range n {
			v.walk(t, c, fmt.Sprintf("%s/%d", at, i))
		}
	}
}

func (v oaValidator) checkKeywords(t *testing.T, s any, at string) {
	t.Helper()
	m, ok := s.(map[string]any)
	if !ok {
		t.Errorf("%s: schema is not an object", at)
		return
	}
	for k, c := range m {
		switch k {
		case "$ref", "type", "required", "enum", "const":
		case "properties":
			for name, p := range c.(map[string]any) {
				v.checkKeywords(t, p, at+"/properties/"+name)
			}
		case "items":
			v.checkKeywords(t, c, at+"/items")
		case "additionalProperties":
			if c != false {
				v.checkKeywords(t, c, at+"/additionalProperties")
			}
		case "oneOf":
			for i, o := range c.([]any) {
				v.checkKeywords(t, o, fmt.Sprintf("%s/oneOf/%d", at, i))
			}
		default:
			if !oaAnnotations[k] {
				t.Errorf("%s: keyword %q is not checked by oaValidator", at, k)
			}
		}
	}
}

// validate returns what is wrong with val (decoded with UseNumber) against
// schema, each at its JSON path.
func (v oaValidator) validate(schema any, val any, at string) []string {
	m := v.resolve(schema.(map[string]any))
	var errs []string
	bad := func(f string, a ...any) { errs = append(errs, at+": "+fmt.Sprintf(f, a...)) }
	if ty, ok := m["type"]; ok {
		var names []string
		switch ty := ty.(type) {
		case string:
			names = []string{ty}
		case []any:
			for _, n := range ty {
				names = append(names, n.(string))
			}
		}
		if !slices.ContainsFunc(names, func(n string) bool { return oaIsType(n, val) }) {
			bad("%s is not of type %v", oaShow(val), names)
			return errs
		}
	}
	if c, ok := m["const"]; ok && !oaEqual(c, val) {
		bad("%s is not %s", oaShow(val), oaShow(c))
	}
	if e, ok := m["enum"].([]any); ok && !slices.ContainsFunc(e, func(c any) bool { return oaEqual(c, val) }) {
		bad("%s is not one of %s", oaShow(val), oaShow(e))
	}
	if one, ok := m["oneOf"].([]any); ok {
		n := 0
		for _, s := range one {
			if len(v.validate(s, val, at)) == 0 {
				n++
			}
		}
		if n != 1 {
			bad("%s matches %d of oneOf's %d schemas, want 1", oaShow(val), n, len(one))
		}
	}
	if obj, ok := val.(map[string]any); ok {
		props, _ := m["properties"].(map[string]any)
		req, _ := m["required"].([]any)
		for _, r := range req {
			if _, ok := obj[r.(string)]; !ok {
				bad("required %q missing", r)
			}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, ok := props[k]; ok {
				errs = append(errs, v.validate(p, obj[k], at+"."+k)...)
				continue
			}
			switch ap := m["additionalProperties"].(type) {
			case bool:
				if !ap {
					bad("property %q is not allowed", k)
				}
			case map[string]any:
				errs = append(errs, v.validate(ap, obj[k], at+"."+k)...)
			}
		}
	}
	if list, ok := val.([]any); ok {
		if it, ok := m["items"]; ok {
			for i, e := range list {
				errs = append(errs, v.validate(it, e, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return errs
}

func oaIsType(name string, val any) bool {
	switch name {
	case "null":
		return val == nil
	case "boolean":
		_, ok := val.(bool)
		return ok
	case "string":
		_, ok := val.(string)
		return ok
	case "object":
		_, ok := val.(map[string]any)
		return ok
	case "array":
		_, ok := val.([]any)
		return ok
	case "number":
		_, ok := val.(json.Number)
		return ok
	case "integer":
		n, ok := val.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil || !strings.ContainsAny(n.String(), ".eE")
	}
	panic("openapi: unknown type " + name)
}

func oaEqual(a, b any) bool { return oaShow(a) == oaShow(b) }

func oaShow(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// oaDecode decodes b for validation, failing t unless it is one JSON value.
func oaDecode(t *testing.T, what string, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		t.Fatalf("%s: body %q is not one JSON value: %v", what, b, err)
	}
	return v
}

// oaCheck validates a request body (if any) and rec's answer against the
// operation "METHOD /path" of the document: the response of rec's status, its
// application/json schema.
func oaCheck(t *testing.T, v oaValidator, ops map[string]oaOp, key, reqBody string, rec *httptest.ResponseRecorder) {
	t.Helper()
	o, ok := ops[key]
	if !ok {
		t.Fatalf("%s is not documented", key)
	}
	if reqBody != "" {
		rb, ok := o.op["requestBody"].(map[string]any)
		if !ok {
			t.Fatalf("%s: documents no request body", key)
		}
		s := v.resolve(rb)["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
		if errs := v.validate(s, oaDecode(t, key+" request", []byte(reqBody)), "request"); len(errs) > 0 {
			t.Errorf("%s: request %s:\n%s", key, reqBody, strings.Join(errs, "\n"))
		}
	}
	resp, ok := o.op["responses"].(map[string]any)[fmt.Sprint(rec.Code)].(map[string]any)
	if !ok {
		t.Fatalf("%s: status %d is not documented (%s)", key, rec.Code, rec.Body)
	}
	ct := rec.Header().Get("Content-Type")
	media, _, _ := strings.Cut(ct, ";")
	content, ok := v.resolve(resp)["content"].(map[string]any)[media].(map[string]any)
	if !ok {
		t.Fatalf("%s: HTTP %d Content-Type %q is not documented", key, rec.Code, ct)
	}
	if errs := v.validate(content["schema"], oaDecode(t, key, rec.Body.Bytes()), "body"); len(errs) > 0 {
		t.Errorf("%s: HTTP %d %s:\n%s", key, rec.Code, rec.Body, strings.Join(errs, "\n"))
	}
}

// oaServer is a Server with every route table and every optional feature on,
// wired as cmd/ccgw wires them: the simulator, the admin API with a virtual
// clock and the event journal, metrics, the live sessions (the session service
// lists them), the workbench's report and request journal (told of
// sign-outs) and faults (asked about events, able to sign agents out). Empty
// polls are answered at once. TestOpenAPIServerHasEveryFeature keeps it so:
// the route tests, and the document's both-ways check, see every route the
// gateway can serve.
func oaServer(t *testing.T) *Server {
	t.Helper()
	st, err := bolt.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir := agent.Default()
	fc := clock.NewVirtual(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	j := sim.NewJournal(100)
	// The report judges heartbeats against the sessions' timeout (2m).
	rep := report.New(report.Config{PollTimeout: 2 * time.Minute, PushTimeout: 2 * time.Minute, Journal: 20})
	var fs *faults.Set
	sm, err := session.New(session.Config{
		SessionSettings: ccgw.SessionSettings{
			Directory: dir,
			Clock:     fc,
			WaitClock: clock.Real{},
			Tap:       j.Add,
			OnSignOut: rep.SignedOut,
			DropEvent: func(id ccgw.AgentID, ev ccgw.Event) bool { return fs.DropEvent(id, ev) },
		},
		Store: mem.NewShared(), Local: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	fs = faults.New(faults.Config{Clock: fc, Interfaces: Interfaces(), DropEvents: true, Clients: func() []ccgw.AgentID { return sm.Clients(context.Background()) },
		Kick: func(id ccgw.AgentID) error { return sm.Kick(context.Background(), id, ccgw.CauseSupervisor) }})
	return New(Config{Sessions: sm, Directory: dir, PollAtOnce: true, Clock: fc,
		Calls:   sim.New(sim.Config{Sessions: sm, Directory: dir, Clock: fc}),
		Admin:   &Admin{Journal: j, Virtual: fc, Now: fc.Now},
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(rtMetrics)) }),
		Report:  rep, Faults: fs})
}

// TestOpenAPIAnswers validates real answers against the document: sign-in,
// handshake, polls with an event and empty, agentstatus, a state change,
// agentbyworkno and other queries, failures (wrong GUID, no session, wrong
// method), admin GETs, health, and the document itself as served.
func TestOpenAPIAnswers(t *testing.T) {
	doc := oaDoc(t)
	ops := oaOps(t, doc)
	v := oaValidator{doc: doc}
	s := oaServer(t)
	admin := s.AdminHandler()
	send := func(h http.Handler, method, path, guid, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if guid != "" {
			req.Header.Set("Guid", guid)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	// check sends a request and validates it and its answer against the
	// operation key; the answer's retcode must be want.
	check := func(h http.Handler, key, path, guid, body string, want ccgw.Retcode) *httptest.ResponseRecorder {
		t.Helper()
		method, _, _ := strings.Cut(key, " ")
		rec := send(h, method, path, guid, body)
		oaCheck(t, v, ops, key, body, rec)
		var env struct {
			Retcode ccgw.Retcode `json:"retcode"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &env); env.Retcode != want {
			t.Errorf("%s %s: retcode %q, want %q: %s", key, path, env.Retcode, want, rec.Body)
		}
		return rec
	}
	const (
		on = "/agentgateway/resource/onlineagent/{agentid}"
		vr = "/agentgateway/resource"
	)
	rec := check(s, "PUT "+on, vr+"/onlineagent/1001", "",
		`{"password":"secret","phonenum":"70001","autoanswer":"false","agenttype":4,"status":"4"}`, ccgw.RetOK)
	var g string
	if h := rec.Header()["Set-GUID"]; len(h) == 1 { // as spelled, not canonical
		g = strings.TrimPrefix(h[0], "JSESSIONID=")
	}
	if g == "" {
		t.Fatalf("sign-in: no Set-GUID: %s", rec.Body)
	}
	check(s, "PUT "+on+"/forcelogin", vr+"/onlineagent/1002", "", `{"password":"secret","phonenum":70002}`, ccgw.RetOK)
	check(s, "POST "+on+"/handshake", vr+"/onlineagent/1001/handshake", g, "", ccgw.RetOK)
	events := 0
	for i := 0; ; i++ {
		rec := check(s, "GET /agentgateway/resource/agentevent/{agentid}", vr+"/agentevent/1001", g, "", ccgw.RetOK)
		if !strings.Contains(rec.Body.String(), `"event"`) {
			break
		}
		events++
		if i > 20 {
			t.Fatal("the sign-in's events never end")
		}
	}
	if events == 0 {
		t.Error("no poll answered an event")
	}
	check(s, "GET "+on+"/agentstatus", vr+"/onlineagent/1001/agentstatus", g, "", ccgw.RetOK)
	check(s, "POST "+on+"/saybusy", vr+"/onlineagent/1001/saybusy", g, "", ccgw.RetOK)
	if rec := check(s, "GET /agentgateway/resource/agentevent/{agentid}", vr+"/agentevent/1001", g, "", ccgw.RetOK); !strings.Contains(rec.Body.String(), `"event"`) {
		t.Errorf("no event after sayBusy: %s", rec.Body)
	}
	check(s, "PUT "+on+"/heartbeat", vr+"/onlineagent/1001/heartbeat", g, "", ccgw.RetOK)
	check(s, "GET /agentgateway/resource/agentgroup/{agentid}/agentbyworkno/{workno}", vr+"/agentgroup/1001/agentbyworkno/1001", g, "", ccgw.RetOK)
	check(s, "GET /agentgateway/resource/agentgroup/{agentid}/agentbyworkno/{workno}", vr+"/agentgroup/1001/agentbyworkno/1003", g, "", ccgw.RetOK)
	check(s, "GET /agentgateway/resource/agentgroup/{agentid}/agentbyskill/{skillid}", vr+"/agentgroup/1001/agentbyskill/1", g,
		`{"agentLimit":"10","agentStatus":[3,"4"]}`, ccgw.RetOK)
	check(s, "GET /agentgateway/resource/agentgroup/{agentid}/allonlineagents", vr+"/agentgroup/1001/allonlineagents", g, "", ccgw.RetOK)
	check(s, "GET "+on+"/agentskills", vr+"/onlineagent/1001/agentskills", g, "", ccgw.RetOK)
	check(s, "GET "+on+"/querycustomstate", vr+"/onlineagent/1001/querycustomstate", g, "", ccgw.RetOK)
	check(s, "GET /agentgateway/resource/calldata/{agentid}/callinfo", vr+"/calldata/1001/callinfo", g, "", ccgw.RetOK)
	check(s, "GET /agentgateway/resource/queuedevice/{agentid}/waitnum", vr+"/queuedevice/1001/waitnum", g, "", ccgw.RetOK)
	check(s, "POST /agentgateway/resource/queuedevice/{agentid}/queryacdstat", vr+"/queuedevice/1001/queryacdstat", g,
		`{"skills":[1,"2"]}`, ccgw.RetOK)
	// Failures: the same operations' envelopes without a result.
	check(s, "POST "+on+"/handshake", vr+"/onlineagent/1001/handshake", "wrong", "", ccgw.RetNoPermission)
	check(s, "GET "+on+"/agentstatus", vr+"/onlineagent/1004/agentstatus", "any", "", ccgw.RetNotSignedIn)
	check(s, "PUT "+on, vr+"/onlineagent/1001", "", `{"password":"secret","phonenum":"70001"}`, ccgw.RetAlreadySignedIn)
	rec = send(s, http.MethodGet, vr+"/onlineagent/1001/handshake", g, "")
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET handshake: %d", rec.Code)
	}
	oaCheck(t, v, ops, "POST "+on+"/handshake", "", rec)
	check(s, "PUT "+on+"/updateGuid", vr+"/onlineagent/1001/updateGuid", g, "", ccgw.RetOK)
	// The admin API, health and the document itself.
	check(admin, "GET /ccgw/v1/clock", "/ccgw/v1/clock", "", "", ccgw.RetOK)
	check(admin, "POST /ccgw/v1/clock/advance", "/ccgw/v1/clock/advance", "", `{"seconds":"1.5"}`, ccgw.RetOK)
	check(admin, "GET /ccgw/v1/events", "/ccgw/v1/events?limit=5", "", "", ccgw.RetOK)
	check(admin, "GET /ccgw/v1/queues", "/ccgw/v1/queues", "", "", ccgw.RetOK)
	check(admin, "GET /ccgw/v1/queues/{skill}", "/ccgw/v1/queues/1", "", "", ccgw.RetOK)
	check(admin, "GET /ccgw/v1/rates", "/ccgw/v1/rates", "", "", ccgw.RetOK)
	check(admin, "GET /ccgw/v1/calls/{callid}", "/ccgw/v1/calls/nothing", "", "", ccgw.RetBadParam)
	check(admin, "GET /healthz", "/healthz", "", "", ccgw.RetOK)
	check(admin, "GET /readyz", "/readyz", "", "", ccgw.RetOK)
	check(s, "GET /healthz", "/healthz", "", "", ccgw.RetOK)
	rec = send(admin, http.MethodGet, "/ccgw/v1/openapi.json", "", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" || !bytes.Equal(rec.Body.Bytes(), openAPI) {
		t.Errorf("GET /ccgw/v1/openapi.json: %d %q, %d bytes, want 200 application/json and the file as is",
			rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
	}
	oaCheck(t, v, ops, "GET /ccgw/v1/openapi.json", "", rec)
	if rec := send(s, http.MethodGet, "/ccgw/v1/openapi.json", "", ""); rec.Code != http.StatusNotFound {
		t.Errorf("vendor GET /ccgw/v1/openapi.json: %d, want 404", rec.Code)
	}
}

// TestOpenAPIValidatorRefuses: the document is exact enough that answers
// unlike ccgw's fail: an extra key in the envelope or a result, a wrong type,
// a missing field, a retcode ccgw does not know, a result matching no oneOf.
func TestOpenAPIValidatorRefuses(t *testing.T) {
	doc := oaDoc(t)
	v := oaValidator{doc: doc}
	ops := oaOps(t, doc)
	schemaOf := func(key string) any {
		r := ops[key].op["responses"].(map[string]any)["200"].(map[string]any)
		return r["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
	}
	const login = `{"vdnid":1,"workno":"1001","mediatype":"TTF","loginTime":"1","isForceChange":"false","serverName":"AgentGateway","timeRemaining":""}`
	for _, c := range []struct{ key, body string }{
		{"PUT /agentgateway/resource/onlineagent/{agentid}", `{"message":"","retcode":"0","result":` + login + `,"extra":1}`},
		{"PUT /agentgateway/resource/onlineagent/{agentid}", `{"message":"","retcode":"0","result":` + strings.Replace(login, `"vdnid":1`, `"vdnid":1,"x":1`, 1) + `}`},
		{"PUT /agentgateway/resource/onlineagent/{agentid}", `{"message":"","retcode":"0","result":` + strings.Replace(login, `"vdnid":1`, `"vdnid":"1"`, 1) + `}`},
		{"PUT /agentgateway/resource/onlineagent/{agentid}", `{"message":"","retcode":"0","result":` + strings.Replace(login, `"vdnid":1,`, ``, 1) + `}`},
		{"PUT /agentgateway/resource/onlineagent/{agentid}", `{"message":"","retcode":"999-999"}`},
		{"PUT /agentgateway/resource/onlineagent/{agentid}", `{"retcode":"0"}`},
		{"GET /agentgateway/resource/agentevent/{agentid}", `{"message":"","retcode":"0","result":{}}`},
		{"GET /agentgateway/resource/agentevent/{agentid}", `{"message":"","retcode":"0","event":{"eventType":"x","eventGenTime":1.5,"workNo":"1001","content":null}}`},
		{"GET /agentgateway/resource/calldata/{agentid}/callinfo", `{"message":"","retcode":"0","result":{"callid":"1"}}`},
		{"GET /agentgateway/resource/onlineagent/{agentid}/agentstatus", `{"message":"","retcode":"0","result":{"agentState":4,"isWorking":"false"}}`},
		{"GET /ccgw/v1/rates", `{"message":"success","retcode":"0","result":{"1":{"perHour":1}}}`},
	} {
		if errs := v.validate(schemaOf(c.key), oaDecode(t, c.key, []byte(c.body)), "body"); len(errs) == 0 {
			t.Errorf("%s: %s passes", c.key, c.body)
		}
	}
}
