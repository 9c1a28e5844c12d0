package e2e

// Replays of public clients of the vendor's agent gateway (docs/clients.md).
// Each TestClient* test sends one client's requests byte for byte as that client
// puts them on the wire (method, path with its slash quirks, header names in
// its case, body field names and JSON types), against the real binary in the
// configuration the client was written for, and reads every answer with that
// client's own rules: which header, compared exactly or case-insensitively,
// which fields and JSON types, and what its push receiver accepts. The
// helpers below are the wire and those rules; the clients are in
// clients_huawei_test.go and clients_other_test.go.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/redistest"
	"github.com/ccgw/ccgw/internal/wait"
)

// hdr is one request or response header as it is on the wire.
type hdr struct{ name, value string }

// wireResp is an answer as read off the connection: header names keep the
// case and order the gateway sent them in.
type wireResp struct {
	status  int
	headers []hdr
	body    []byte
}

// exact returns the values of the headers named exactly name, in order: how
// Apache HttpClient's Header.getName().equals(name) sees them.
func (r wireResp) exact(name string) []string {
	var vs []string
	for _, h := range r.headers {
		if h.name == name {
			vs = append(vs, h.value)
		}
	}
	return vs
}

// fold returns the values of the headers named name in any case: how .NET,
// okhttp, Java 11's HttpClient and XMLHttpRequest look a header up.
func (r wireResp) fold(name string) []string {
	var vs []string
	for _, h := range r.headers {
		if strings.EqualFold(h.name, name) {
			vs = append(vs, h.value)
		}
	}
	return vs
}

func (r wireResp) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", r.status)
	for _, h := range r.headers {
		fmt.Fprintf(&b, "\n%s: %s", h.name, h.value)
	}
	fmt.Fprintf(&b, "\n\n%s", r.body)
	return b.String()
}

// wireClient replays one client's requests. Each request goes on a fresh
// connection, written by hand so that nothing canonicalises its header names.
type wireClient struct {
	tb    testing.TB
	addr  string // host:port of the gateway
	fixed []hdr  // headers the client's HTTP library adds to every request
}

// do sends method target (the path and query exactly as the client builds
// them) with the Host header, c.fixed, hdrs and body. A nil body sends no
// Content-Length; a non-nil one, even empty, sends its length (HTTP libraries
// send "Content-Length: 0" on a PUT, POST or DELETE without an entity).
func (c *wireClient) do(method, target string, hdrs []hdr, body []byte) wireResp {
	c.tb.Helper()
	r, err := wireDo(c.addr, method, target, append(append([]hdr(nil), c.fixed...), hdrs...), body)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", method, target, err)
	}
	return r
}

func wireDo(addr, method, target string, hdrs []hdr, body []byte) (wireResp, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return wireResp{}, err
	}
	defer conn.Close()
	// The clients' own limits are 15–60 s; a held poll answers within --poll-wait.
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, addr)
	for _, h := range hdrs {
		fmt.Fprintf(&b, "%s: %s\r\n", h.name, h.value)
	}
	if body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	if _, err := conn.Write(b.Bytes()); err != nil {
		return wireResp{}, err
	}
	return readWireResp(bufio.NewReader(conn), method)
}

// readWireResp reads one HTTP/1.1 response without canonicalising its header
// names. ccgw always answers with a Content-Length.
func readWireResp(br *bufio.Reader, method string) (wireResp, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return wireResp{}, fmt.Errorf("status line: %w", err)
	}
	proto, rest, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if proto != "HTTP/1.1" || err != nil {
		return wireResp{}, fmt.Errorf("status line %q", line)
	}
	r := wireResp{status: status}
	length := -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return r, fmt.Errorf("header: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return r, fmt.Errorf("header line %q", line)
		}
		value = strings.TrimSpace(value)
		r.headers = append(r.headers, hdr{name, value})
		switch {
		case strings.EqualFold(name, "Content-Length"):
			if length, err = strconv.Atoi(value); err != nil {
				return r, fmt.Errorf("Content-Length %q", value)
			}
		case strings.EqualFold(name, "Transfer-Encoding"):
			return r, fmt.Errorf("Transfer-Encoding %q: clients that size a buffer by Content-Length fail", value)
		}
	}
	if method == http.MethodHead {
		return r, nil
	}
	if length < 0 {
		return r, fmt.Errorf("HTTP %d without Content-Length", status)
	}
	r.body = make([]byte, length)
	if _, err := io.ReadFull(br, r.body); err != nil {
		return r, fmt.Errorf("body: %w", err)
	}
	return r, nil
}

// javaMap is a JSON object decoded as Jackson, json-lib and fastjson decode
// into a Map: numbers stay numbers, so a client's cast to String of a field
// that came as a number would fail.
type javaMap map[string]any

// parseJavaMap decodes body as Jackson's readValue(body, HashMap.class) does,
// failing tb unless it is a JSON object.
func parseJavaMap(tb testing.TB, body []byte) javaMap {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m javaMap
	if err := dec.Decode(&m); err != nil || m == nil {
		tb.Fatalf("body %q is not a JSON object: %v", body, err)
	}
	return m
}

// str returns field key, failing tb unless it is a JSON string: the clients
// compare retcode with "0".equals(...) and cast workNo to String.
func (m javaMap) str(tb testing.TB, key string) string {
	tb.Helper()
	v, ok := m[key].(string)
	if !ok {
		tb.Fatalf("%q is %T (%v), want a JSON string, in %v", key, m[key], m[key], map[string]any(m))
	}
	return v
}

// obj returns field key as an object, nil if it is absent or null, failing tb
// if it is anything else (the clients cast it to Map).
func (m javaMap) obj(tb testing.TB, key string) javaMap {
	tb.Helper()
	switch v := m[key].(type) {
	case nil:
		return nil
	case map[string]any:
		return v
	default:
		tb.Fatalf("%q is %T, want an object, in %v", key, m[key], map[string]any(m))
		return nil
	}
}

// envelopeMap returns the answer's body as a Java client's Map, failing tb unless
// the answer is HTTP 200 with a JSON body whose retcode is a string, and its
// retcode.
func envelopeMap(tb testing.TB, r wireResp) (javaMap, string) {
	tb.Helper()
	if r.status != http.StatusOK {
		tb.Fatalf("answer %s, want HTTP 200", r)
	}
	m := parseJavaMap(tb, r.body)
	return m, m.str(tb, "retcode")
}

// mustCode fails tb unless r is HTTP 200 with retcode want (a JSON string).
func mustCode(tb testing.TB, what string, r wireResp, want string) javaMap {
	tb.Helper()
	m, code := envelopeMap(tb, r)
	if code != want {
		tb.Fatalf("%s: retcode %q, want %q; answer %s", what, code, want, r)
	}
	return m
}

// mustUnserved fails tb unless r is ccgw's documented answer to an interface it
// does not implement: HTTP 404 with the envelope {"message":…,"retcode":"000-002"}.
func mustUnserved(tb testing.TB, what string, r wireResp) {
	tb.Helper()
	if r.status != http.StatusNotFound {
		tb.Fatalf("%s: %s, want HTTP 404", what, r)
	}
	if code := parseJavaMap(tb, r.body).str(tb, "retcode"); code != "000-002" {
		tb.Fatalf("%s: retcode %q, want 000-002", what, code)
	}
}

// noSetCookie fails tb if r sets a cookie: #7/#8 cut a Set-Cookie at its ';'
// (and fail without one), #2/#4 turn them into a garbled Cookie header, and
// .NET's Cookie constructor throws on attributes.
func noSetCookie(tb testing.TB, r wireResp) {
	tb.Helper()
	if v := r.fold("Set-Cookie"); len(v) > 0 {
		tb.Fatalf("answer sets a cookie %q", v)
	}
}

// javaSetGUID applies the Apache HttpClient clients' rule (#2, #3, #4, #7, #8):
// the first header whose name equals "Set-GUID" exactly, with "JSESSIONID="
// removed; "" if there is none. The value must survive their header filter
// (formatHeader/checkHeader delete \r \n : =) unchanged and carry no ';'.
func javaSetGUID(tb testing.TB, r wireResp) string {
	tb.Helper()
	if v := r.fold("Set-GUID"); len(v) > 0 && len(r.exact("Set-GUID")) == 0 {
		tb.Fatalf("Set-GUID sent as %v: a client comparing the name with equals(\"Set-GUID\") misses it", r.headers)
	}
	vs := r.exact("Set-GUID")
	if len(vs) == 0 {
		return ""
	}
	if len(vs) > 1 {
		tb.Fatalf("%d Set-GUID headers", len(vs))
	}
	g := strings.ReplaceAll(vs[0], "JSESSIONID=", "")
	if g == "" || strings.ContainsAny(g, "\r\n:=;, ") {
		tb.Fatalf("Set-GUID %q: the GUID %q is empty or does not survive the clients' header filter", vs[0], g)
	}
	return g
}

// csharpSetGUID applies the C# demo's rule (#1): Headers.Get("Set-GUID") (any
// case), the text after the first '='.
func csharpSetGUID(tb testing.TB, r wireResp) string {
	tb.Helper()
	vs := r.fold("Set-GUID")
	if len(vs) == 0 {
		return ""
	}
	if len(vs) > 1 {
		tb.Fatalf("%d Set-GUID headers: .NET joins them with ','", len(vs))
	}
	return vs[0][strings.Index(vs[0], "=")+1:]
}

// jsSetGUID applies the generated JavaScript SDK's rule (#5/#6), on any 2xx:
// getResponseHeader("Set-GUID").split("=")[1]. ok is false without the header;
// the value must have exactly one '=' or the SDK truncates it (or sends
// "undefined").
func jsSetGUID(tb testing.TB, r wireResp) (string, bool) {
	tb.Helper()
	vs := r.fold("Set-GUID")
	if len(vs) == 0 || vs[0] == "" {
		return "", false
	}
	parts := strings.Split(vs[0], "=")
	if len(parts) != 2 || parts[1] == "" {
		tb.Fatalf("Set-GUID %q: split(\"=\")[1] would not be the whole GUID", vs[0])
	}
	return parts[1], true
}

// pushLog collects what a client's push receiver accepted and any push that
// its receiver would have refused or mis-read; it is safe for concurrent use.
type pushLog struct {
	mu     sync.Mutex
	events []string // event types, in the order they were accepted
	bad    []string // why a push would have failed in the real receiver
}

func (l *pushLog) accept(types ...string) {
	l.mu.Lock()
	l.events = append(l.events, types...)
	l.mu.Unlock()
}

func (l *pushLog) reject(format string, args ...any) {
	l.mu.Lock()
	l.bad = append(l.bad, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// wait waits until the receiver has accepted len(want) more events after the
// first from, then checks them against want and that no push went wrong; it
// returns the new count.
func (l *pushLog) wait(tb testing.TB, from int, want ...string) int {
	tb.Helper()
	var got []string
	wait.For(tb, time.Minute, 20*time.Millisecond, func() error {
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.bad) > 0 {
			tb.Fatalf("pushes the client's receiver would refuse: %q", l.bad)
		}
		if len(l.events) < from+len(want) {
			return fmt.Errorf("pushed %q, want %q after the first %d", l.events, want, from)
		}
		got = append([]string(nil), l.events[from:from+len(want)]...)
		return nil
	})
	for i := range want {
		if got[i] != want[i] {
			tb.Fatalf("pushed %q after the first %d, want %q", got, from, want)
		}
	}
	return from + len(want)
}

// serveReceiver runs h on a loopback port until the test ends and returns its
// address.
func serveReceiver(tb testing.TB, h http.HandlerFunc) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// pollEvents polls with poll until it has collected len(want) events, skipping
// answers without one (as every polling client does), and fails tb unless they
// are want, in order.
func pollEvents(tb testing.TB, poll func() (eventType string, ok bool), want ...string) {
	tb.Helper()
	var got []string
	deadline := time.Now().Add(time.Minute) // a guard, not a speed limit
	for len(got) < len(want) {
		if time.Now().After(deadline) {
			tb.Fatalf("polled %q within a minute, want %q", got, want)
		}
		if typ, ok := poll(); ok {
			got = append(got, typ)
		}
	}
	for i := range want {
		if got[i] != want[i] {
			tb.Fatalf("polled %q, want %q", got, want)
		}
	}
}

// injectCall puts an inbound call to skill in the simulated call centre (the
// admin API, not a client's request) and returns its call ID.
func injectCall(tb testing.TB, p *proc, skill int) string {
	tb.Helper()
	r := call(tb, p.client, http.MethodPost, p.adminURL("/ccgw/v1/calls"), "", `{"skillId":`+strconv.Itoa(skill)+`,"caller":"13800000001"}`)
	var res struct {
		CallID string `json:"callid"`
	}
	if r.env.Retcode != "0" || json.Unmarshal(r.env.Result, &res) != nil || res.CallID == "" {
		tb.Fatalf("inject call: HTTP %d %s", r.status, r.body)
	}
	return res.CallID
}

// decodeMap decodes body as a JSON object, numbers kept as json.Number; ok is
// false if it is not one.
func decodeMap(body []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, false
	}
	return m, true
}

// unknownKeys lists, sorted, the keys of m that are not known: what a Jackson
// binding that fails on unknown properties refuses.
func unknownKeys(m map[string]any, known ...string) string {
	var out []string
	for k := range m {
		if !slices.Contains(known, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// scalarText is the text Jackson binds into a String field from a JSON scalar.
func scalarText(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// onEveryStore runs a client's replay against a gateway on each store: bbolt
// (one node) and Redis (a real redis-server of the test's own), in parallel,
// so that a client meets the same wire on either.
func onEveryStore(t *testing.T, replay func(t *testing.T, store string)) {
	t.Parallel()
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			replay(t, store)
		})
	}
}

// stores are the backends onEveryStore runs a test on: bbolt (one node),
// memory and Redis (session.Service on mem.Shared and on a redis-server of
// the test's own).
var stores = []string{"bolt", "memory", "redis"}

// storeFlags returns the flags that start a gateway on store.
func storeFlags(t *testing.T, store string) []string {
	t.Helper()
	switch store {
	case "redis":
		return []string{"--store", redistest.Start(t).URL()}
	case "memory":
		return []string{"--store", "memory"}
	}
	return nil
}

// startGatewayOn is startGateway in a fresh data directory on store (one of
// stores).
func startGatewayOn(t *testing.T, store string, extra ...string) *proc {
	t.Helper()
	return startGateway(t, t.TempDir(), append(extra, storeFlags(t, store)...)...)
}
