package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/api"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/guard"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// base is the vendor prefix without its trailing slash.
const base = "/agentgateway/resource"

// wantContentType is the Content-Type of every response (README §2).
const wantContentType = "application/json; charset=UTF-8"

// guidRE is the shape of every GUID ccgw mints (README §2).
var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.AgentGateway0$`)

// loginBody is the smallest sign-in body that succeeds with the default directory.
const loginBody = `{"password":"secret","phonenum":"70001"}`

// tConfig configures a test server; zero values mean the defaults given.
type tConfig struct {
	dir      *agent.Directory // agent.Default()
	pollWait time.Duration    // 50ms
	ready    func() bool      // the bolt store's Ready
	clock    ccgw.Clock       // real
	authMode ccgw.AuthMode    // static
	log      *slog.Logger     // discards
	// checkCallback judges callback URLs (api.Config.CheckCallback); nil: any.
	checkCallback func(string) error
	lockout       ccgw.LockoutPolicy // zero: no lockout
}

// tServer is the real api, session service and bolt store behind a loopback
// httptest server, joined as --store bolt joins them.
type tServer struct {
	URL      string
	handler  *api.Server
	sessions *session.Service
	store    *bolt.Store
	srv      *httptest.Server
	lastSeq  atomic.Uint64 // X-CCGW-Seq of the last event mustPoll returned
}

// testServer starts a server on cfg with its bolt store in tb.TempDir(); cleanup
// closes the server, then the store.
func testServer(tb testing.TB, cfg tConfig) *tServer {
	tb.Helper()
	if cfg.dir == nil {
		cfg.dir = agent.Default()
	}
	if cfg.pollWait == 0 {
		cfg.pollWait = 50 * time.Millisecond
	}
	st, err := bolt.Open(tb.TempDir())
	if err != nil {
		tb.Fatalf("bolt.Open: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	if cfg.ready == nil {
		cfg.ready = st.Ready
	}
	set := ccgw.SessionSettings{
		Directory: cfg.dir,
		Clock:     cfg.clock,
		AuthMode:  cfg.authMode,
		Log:       cfg.log,
		Lockout:   cfg.lockout,
		Lockouts:  st,
	}
	set.Defaults()
	db, _, err := mem.OpenShared(mem.Durable{Log: st, Deadline: func(s *ccgw.Session) int64 {
		return set.Deadline(set.Clock.Now(), s.Mode)
	}})
	if err != nil {
		tb.Fatalf("mem.OpenShared: %v", err)
	}
	sm, err := session.New(session.Config{SessionSettings: set, Store: db, Local: true})
	if err != nil {
		tb.Fatalf("session.New: %v", err)
	}
	var guardClock ccgw.Clock = clock.Real{}
	if cfg.clock != nil {
		guardClock = cfg.clock
	}
	h := api.New(api.Config{
		Sessions:  sm,
		Directory: cfg.dir,
		PollWait:  cfg.pollWait,
		Ready:     cfg.ready,
		Log:       cfg.log,

		CheckCallback: cfg.checkCallback,
		Lockout:       &guard.Guard{Directory: cfg.dir, Policy: cfg.lockout, Store: st, Clock: guardClock, Log: slog.New(slog.DiscardHandler)},
	})
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return &tServer{URL: srv.URL, handler: h, sessions: sm, store: st, srv: srv}
}

// testFileDirectory returns a directory built from an --agents file that lists
// agents 1001 (password "S3cret!pw") and 1002 (password "other-pw").
func testFileDirectory(tb testing.TB) *agent.Directory {
	tb.Helper()
	const file = `{
		"skills": [{"id": 1, "name": "Sales", "mediatype": 5}],
		"agents": [
			{"workNo": "1001", "name": "Alice", "password": "S3cret!pw", "phone": "70001", "groupId": 1, "skills": [1]},
			{"workNo": "1002", "name": "Bob", "password": "other-pw", "phone": "70002", "groupId": 1, "skills": [1]}
		]
	}`
	var f agent.File
	if err := json.Unmarshal([]byte(file), &f); err != nil {
		tb.Fatalf("agents file: %v", err)
	}
	d, err := agent.FromFile(f)
	if err != nil {
		tb.Fatalf("agent.FromFile: %v", err)
	}
	return d
}

// tResp is a response, read to the end.
type tResp struct {
	status int
	header http.Header
	body   []byte
	env    map[string]json.RawMessage // the body's top-level keys
}

// retcode returns the envelope's retcode.
func (r *tResp) retcode() string {
	var s string
	json.Unmarshal(r.env["retcode"], &s)
	return s
}

// object returns the top-level key k decoded into a map of its keys, failing
// unless it is a JSON object.
func (r *tResp) object(tb testing.TB, k string) map[string]json.RawMessage {
	tb.Helper()
	var m map[string]json.RawMessage
	raw, ok := r.env[k]
	if !ok {
		tb.Fatalf("response has no %q: %s", k, r.body)
	}
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		tb.Fatalf("%q is not an object: %s", k, r.body)
	}
	return m
}

// hdr is a set of request headers, sent with their keys spelled as given.
type hdr map[string]string

func guidHdr(g string) hdr { return hdr{"Guid": g} }

// do sends a request over loopback HTTP and checks what every response must
// satisfy: status 200, 404, 405 or 503; Content-Type exactly wantContentType;
// a body that is a JSON object whose retcode is a known retcode string.
func (ts *tServer) do(tb testing.TB, method, path string, h hdr, body string) *tResp {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, ts.URL+path, rd)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", wantContentType)
	}
	for k, v := range h {
		req.Header[k] = []string{v} // as spelled: "guid" stays lower case on the wire
	}
	resp, err := ts.srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	r := &tResp{status: resp.StatusCode, header: resp.Header, body: b}
	mustValidResponse(tb, method+" "+path, r.status, r.header, r.body)
	json.Unmarshal(b, &r.env)
	return r
}

// mustValidResponse fails tb unless a response has a documented status, the
// JSON Content-Type, and a body that is an envelope with a known retcode.
func mustValidResponse(tb testing.TB, what string, status int, h http.Header, body []byte) {
	tb.Helper()
	switch status {
	case http.StatusOK, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusServiceUnavailable,
		http.StatusRequestEntityTooLarge, http.StatusTooManyRequests,
		http.StatusUnauthorized, // the admin handler's, with AdminToken
		http.StatusForbidden:    // the admin handler's: a cross-origin change, a Host not local
	default:
		tb.Fatalf("%s: status %d", what, status)
	}
	if got := h.Values("Content-Type"); len(got) != 1 || got[0] != wantContentType {
		tb.Fatalf("%s: Content-Type %q, want %q", what, got, wantContentType)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil || env == nil {
		tb.Fatalf("%s: body is not a JSON object: %q", what, body)
	}
	var msg, code string
	if err := json.Unmarshal(env["retcode"], &code); err != nil {
		tb.Fatalf("%s: retcode is not a string: %s", what, body)
	}
	if !ccgw.Retcode(code).Known() {
		tb.Fatalf("%s: unknown retcode %q: %s", what, code, body)
	}
	if err := json.Unmarshal(env["message"], &msg); err != nil {
		tb.Fatalf("%s: message is not a string: %s", what, body)
	}
	if code != "0" && msg != ccgw.Retcode(code).Message() {
		tb.Fatalf("%s: message %q, want %q", what, msg, ccgw.Retcode(code).Message())
	}
	if status == http.StatusMethodNotAllowed && h.Get("Allow") == "" {
		tb.Fatalf("%s: 405 without Allow", what)
	}
}

// mustCode fails tb unless r has HTTP status 200 and retcode want.
func mustCode(tb testing.TB, r *tResp, want string) {
	tb.Helper()
	if r.status != http.StatusOK || r.retcode() != want {
		tb.Fatalf("got HTTP %d retcode %q, want 200 %q: %s", r.status, r.retcode(), want, r.body)
	}
}

// mustBody fails tb unless r's body is exactly want.
func mustBody(tb testing.TB, r *tResp, want string) {
	tb.Helper()
	if string(r.body) != want {
		tb.Fatalf("body\n got %s\nwant %s", r.body, want)
	}
}

// mustKeys fails tb unless m has exactly the keys want.
func mustKeys(tb testing.TB, what string, m map[string]json.RawMessage, want ...string) {
	tb.Helper()
	if len(m) != len(want) {
		tb.Fatalf("%s has keys %v, want %v", what, keysOf(m), want)
	}
	for _, k := range want {
		if _, ok := m[k]; !ok {
			tb.Fatalf("%s has keys %v, want %v", what, keysOf(m), want)
		}
	}
}

func keysOf(m map[string]json.RawMessage) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// Paths of the interfaces under test.
func pathLogin(id string) string      { return base + "/onlineagent/" + id }
func pathForceLogin(id string) string { return base + "/onlineagent/" + id + "/forcelogin" }
func pathLoginEx(id string) string    { return base + "/onlineagent/" + id + "/loginex" }
func pathLogout(id string) string     { return base + "/onlineagent/" + id + "/logout" }
func pathForceLogout(id string) string {
	return base + "/onlineagent/" + id + "/forcelogout"
}
func pathForceLogoutReason(id, reason string) string {
	return base + "/onlineagent/" + id + "/forcelogoutwithreason/" + reason
}
func pathHandShake(id string) string  { return base + "/onlineagent/" + id + "/handshake" }
func pathEvent(id string) string      { return base + "/agentevent/" + id }
func pathStatus(id string) string     { return base + "/onlineagent/" + id + "/agentstatus" }
func pathUpdateGuid(id string) string { return base + "/onlineagent/" + id + "/updateGuid" }

// mustSignIn signs agent id in with body through iface's path and returns its
// GUID; it fails tb unless the sign-in succeeds.
func (ts *tServer) mustSignIn(tb testing.TB, path func(string) string, id, body string) string {
	tb.Helper()
	r := ts.do(tb, http.MethodPut, path(id), nil, body)
	mustCode(tb, r, "0")
	g := strings.TrimPrefix(r.header.Get("Set-GUID"), "JSESSIONID=")
	if !guidRE.MatchString(g) {
		tb.Fatalf("sign-in of %s: Set-GUID %q", id, r.header.Get("Set-GUID"))
	}
	return g
}

// mustLogin signs agent id in with loginBody and returns its GUID.
func (ts *tServer) mustLogin(tb testing.TB, id string) string {
	tb.Helper()
	return ts.mustSignIn(tb, pathLogin, id, loginBody)
}

// mustPoll polls agent id's events with guid and returns the event, nil for an
// empty poll; it fails tb unless the poll succeeds.
func (ts *tServer) mustPoll(tb testing.TB, id, guid string) map[string]json.RawMessage {
	tb.Helper()
	r := ts.do(tb, http.MethodGet, pathEvent(id), guidHdr(guid), "")
	mustCode(tb, r, "0")
	if string(r.env["message"]) != `""` {
		tb.Fatalf("poll message %s, want \"\"", r.env["message"])
	}
	if _, ok := r.env["event"]; !ok {
		// The vendor's empty poll: exactly this body (its C# desktop compares it).
		mustBody(tb, r, `{"message":"","retcode":"0"}`)
		if h := r.header.Get("X-CCGW-Seq"); h != "" {
			tb.Fatalf("empty poll carries X-CCGW-Seq %q", h)
		}
		return nil
	}
	seq, err := strconv.ParseUint(r.header.Get("X-CCGW-Seq"), 10, 64)
	if err != nil || seq == 0 {
		tb.Fatalf("poll answer X-CCGW-Seq %q, want the event's sequence number", r.header.Get("X-CCGW-Seq"))
	}
	mustKeys(tb, "poll envelope", r.env, "message", "retcode", "event")
	ts.lastSeq.Store(seq)
	return r.object(tb, "event")
}

// mustEventType fails tb unless ev is an event of type want for agent id, with
// exactly the spec's keys.
func mustEventType(tb testing.TB, ev map[string]json.RawMessage, id, want string) {
	tb.Helper()
	if ev == nil {
		tb.Fatalf("no event, want %s", want)
	}
	mustKeys(tb, "event", ev, "eventType", "eventGenTime", "workNo", "content")
	var typ, workNo string
	var gen int64
	if json.Unmarshal(ev["eventType"], &typ) != nil || typ != want {
		tb.Fatalf("eventType %s, want %q", ev["eventType"], want)
	}
	if json.Unmarshal(ev["workNo"], &workNo) != nil || workNo != id {
		tb.Fatalf("workNo %s, want %q", ev["workNo"], id)
	}
	if json.Unmarshal(ev["eventGenTime"], &gen) != nil || gen <= 0 {
		tb.Fatalf("eventGenTime %s, want a positive ms epoch number", ev["eventGenTime"])
	}
}

// logRecorder is a slog.Handler that keeps every record's message and attributes.
type logRecorder struct {
	mu    sync.Mutex // guards lines
	lines []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b bytes.Buffer
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	return nil
}

func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// take returns the lines logged since the last take.
func (l *logRecorder) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}
