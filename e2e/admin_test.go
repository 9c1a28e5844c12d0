package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAdminListener runs the binary with its admin listener on its own loopback
// port: the admin API and /metrics answer 404 on the vendor port exactly as an
// unknown path does, and are served on the admin port; health is on both.
func TestAdminListener(t *testing.T) { onEveryStore(t, testAdminListener) }

func testAdminListener(t *testing.T, store string) {
	p := startGatewayOn(t, store, "--clock", "virtual")
	if p.adminAddr == "" || p.adminAddr == p.addr || p.adminScheme != "http" {
		t.Fatalf("admin listener %q %q (vendor %s)", p.adminScheme, p.adminAddr, p.addr)
	}
	if l := p.log.find("msg", "admin listening"); len(l) != 1 || l[0].attr["auth"] != "none" {
		t.Fatalf("admin listening lines: %v", l)
	}
	var clk struct {
		Now     int64 `json:"now"`
		Virtual bool  `json:"virtual"`
	}
	p.admin(t, http.MethodGet, "clock", "", &clk)
	if !clk.Virtual {
		t.Errorf("clock %+v, want virtual", clk)
	}
	before := clk.Now
	unknown := call(t, p.client, http.MethodGet, p.url("/nothing"), "", "")
	if unknown.status != http.StatusNotFound || unknown.env.Retcode != "000-002" {
		t.Fatalf("unknown path: HTTP %d %s", unknown.status, unknown.body)
	}
	for _, r := range []struct{ method, path, body string }{
		{http.MethodGet, "/ccgw/v1/clock", ""},
		{http.MethodPost, "/ccgw/v1/clock/advance", `{"seconds":60}`},
		{http.MethodGet, "/ccgw/v1/events?after=0", ""},
		{http.MethodGet, "/ccgw/v1/queues", ""},
		{http.MethodPost, "/ccgw/v1/calls", `{"skillId":1}`},
		{http.MethodPut, "/ccgw/v1/rates/1", `{"perHour":60}`},
		{http.MethodPost, "/ccgw/v1/agents", `{"workNo":"2001"}`},
		{http.MethodGet, "/metrics", ""},
		{http.MethodGet, "//metrics", ""},
	} {
		got := call(t, p.client, r.method, p.url(r.path), "", r.body)
		if got.status != unknown.status || !bytes.Equal(got.body, unknown.body) || got.header.Get("Allow") != "" {
			t.Errorf("vendor port %s %s: HTTP %d %s, want as an unknown path: %d %s",
				r.method, r.path, got.status, got.body, unknown.status, unknown.body)
		}
	}
	p.admin(t, http.MethodGet, "clock", "", &clk)
	if clk.Now != before {
		t.Fatal("a request on the vendor port moved the virtual clock")
	}
	var rates map[string]any
	if p.admin(t, http.MethodGet, "rates", "", &rates); len(rates) != 0 {
		t.Fatalf("rates %v: a request on the vendor port set one", rates)
	}
	body := getBody(t, p.client, p.adminURL("/metrics"))
	for _, want := range []string{"\nccgw_sessions_live ", "\nccgw_ready 1\n", "\nccgw_build_info{"} {
		if !strings.Contains(body, want) {
			t.Errorf("admin /metrics lacks %q:\n%.500s", want, body)
		}
	}
	// The binary's version, as ccgw_build_info has it, on its listening line too.
	if v := p.listening.attr["version"]; v == "" || !strings.Contains(body, `version="`+v+`"`) {
		t.Errorf("listening line version=%q, not ccgw_build_info's", v)
	}
	out, err := exec.Command(binary, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "ccgw "+p.listening.attr["version"]+" (commit ") {
		t.Errorf("ccgw version: %q, %v", out, err)
	}
	for _, u := range []string{p.url("/healthz"), p.url("/readyz"), p.adminURL("/healthz"), p.adminURL("/readyz")} {
		if r := call(t, p.client, http.MethodGet, u, "", ""); r.status != http.StatusOK || r.env.Retcode != "0" {
			t.Errorf("GET %s: HTTP %d %s", u, r.status, r.body)
		}
	}
	// A known admin path with another method: 405 and Allow, as the vendor's routes.
	if r := call(t, p.client, http.MethodGet, p.adminURL("/ccgw/v1/clock/advance"), "", ""); r.status != http.StatusMethodNotAllowed ||
		r.header.Get("Allow") != "POST" || r.env.Retcode != "000-002" {
		t.Errorf("GET clock/advance: HTTP %d Allow %q %s", r.status, r.header.Get("Allow"), r.body)
	}
}

// TestAdminInputsBounded: on the real binary, a rate of 1e308 calls an hour is
// refused and queues nothing (the rates flood), the largest journal offset
// answers without a panic, and adding a simulated agent over a client's session
// is refused (100-002) and leaves the client signed in.
func TestAdminInputsBounded(t *testing.T) { onEveryStore(t, testAdminInputsBounded) }

func testAdminInputsBounded(t *testing.T, store string) {
	p := startGatewayOn(t, store, "--clock", "virtual", "--heartbeat-timeout", "2h")
	for _, body := range []string{`{"perHour":1e308}`, `{"perHour":"NaN"}`, `{"perHour":"Infinity"}`, `{"perHour":-1}`} {
		r := call(t, p.client, http.MethodPut, p.adminURL("/ccgw/v1/rates/1"), "", body)
		if r.status != http.StatusOK || r.env.Retcode != "000-002" {
			t.Fatalf("PUT rates/1 %s: HTTP %d %s, want 000-002", body, r.status, r.body)
		}
	}
	var clk struct{}
	p.admin(t, http.MethodPost, "clock/advance", `{"duration":"1h"}`, &clk)
	var queues []struct {
		Skill   int `json:"skillId"`
		Waiting int `json:"waiting"`
		Offered int `json:"offered"`
	}
	p.admin(t, http.MethodGet, "queues", "", &queues)
	for _, q := range queues {
		if q.Waiting != 0 || q.Offered != 0 {
			t.Fatalf("queue %+v an hour after refused rates, want no call", q)
		}
	}
	if r := call(t, p.client, http.MethodPost, p.adminURL("/ccgw/v1/clock/advance"), "", `{"duration":"25h"}`); r.env.Retcode != "000-002" {
		t.Errorf("advance 25h: HTTP %d %s, want 000-002", r.status, r.body)
	}

	var page struct {
		Events []any  `json:"events"`
		Last   uint64 `json:"last"`
	}
	p.admin(t, http.MethodGet, "events?after=18446744073709551615&limit=10000", "", &page)
	if len(page.Events) != 0 || page.Last != 18446744073709551615 {
		t.Fatalf("events after the largest offset: %+v", page)
	}
	for _, q := range []string{"after=18446744073709551616", "limit=0", "limit=10001"} {
		if r := call(t, p.client, http.MethodGet, p.adminURL("/ccgw/v1/events?"+q), "", ""); r.env.Retcode != "000-002" {
			t.Errorf("events?%s: HTTP %d %s, want 000-002", q, r.status, r.body)
		}
	}
	if l := p.log.find("msg", "panic"); len(l) != 0 {
		t.Fatalf("panic logged: %s", l[0].raw)
	}

	g, _ := p.signIn(t, "1002", "")
	r := call(t, p.client, http.MethodPost, p.adminURL("/ccgw/v1/agents"), "", `{"workNo":"1002"}`)
	if r.status != http.StatusOK || r.env.Retcode != "100-002" {
		t.Fatalf("POST agents over a client's session: HTTP %d %s, want 100-002", r.status, r.body)
	}
	if got := p.handshake(t, "1002", g); got != "0" {
		t.Fatalf("client's heartbeat after the refusal: %s", got)
	}
	p.drain(t, "1002", g, evInService, "AgentState_Ready")
	if env := p.poll(t, "1002", g); env.Retcode != "0" || env.Event != nil {
		t.Fatalf("client's poll: %+v, want no event (no ShutdownService)", env)
	}
}

// TestAdminTokenRequired: started with --admin-token-env (here on loopback,
// where it is optional; a non-loopback --admin-addr requires it), every
// request to the admin port without the bearer token gets 401, 000-003 and
// WWW-Authenticate: Bearer; with it, 200. The vendor port asks for none.
func TestAdminTokenRequired(t *testing.T) {
	const token = "e2e-admin-token-0123456789"
	t.Setenv("CCGW_E2E_ADMIN_TOKEN", token) // inherited by the binary; not parallel
	p := startGateway(t, t.TempDir(), "--admin-token-env", "CCGW_E2E_ADMIN_TOKEN")
	if l := p.log.find("msg", "admin listening", "auth", "bearer"); len(l) != 1 {
		t.Fatalf("no admin listening line with auth=bearer")
	}
	for _, path := range []string{"/ccgw/v1/clock", "/metrics", "/healthz"} {
		for _, auth := range []string{"", "Bearer wrong-token", "Bearer " + token + "x", "Basic " + token, token} {
			r := sendAuth(t, http.MethodGet, p.adminURL(path), auth)
			if r.status != http.StatusUnauthorized || r.env.Retcode != "000-003" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("GET %s with Authorization %q: HTTP %d WWW-Authenticate %q %s, want 401 Bearer 000-003",
					path, auth, r.status, r.header.Get("WWW-Authenticate"), r.body)
			}
		}
	}
	if r := sendAuth(t, http.MethodGet, p.adminURL("/ccgw/v1/clock"), "Bearer "+token); r.status != http.StatusOK || r.env.Retcode != "0" {
		t.Errorf("clock with the token: HTTP %d %s", r.status, r.body)
	}
	if r := sendAuth(t, http.MethodGet, p.adminURL("/metrics"), "Bearer "+token); r.status != http.StatusOK || !bytes.Contains(r.body, []byte("ccgw_sessions_live")) {
		t.Errorf("metrics with the token: HTTP %d %.200s", r.status, r.body)
	}
	if r := call(t, p.client, http.MethodGet, p.url("/healthz"), "", ""); r.status != http.StatusOK {
		t.Errorf("vendor /healthz without a token: HTTP %d", r.status)
	}
	if g, _ := p.signIn(t, "1001", ""); p.handshake(t, "1001", g) != "0" {
		t.Error("vendor API without a token failed")
	}
}

// TestStartRefusals: the binary refuses, with one clear line and a non-zero
// exit and before listening, a non-loopback --admin-addr without a token (not
// bound: refused while parsing), an admin token variable that is empty, and
// --cert with --plaintext.
func TestStartRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--admin-addr", "192.0.2.1:8044"}, "--admin-addr 192.0.2.1:8044 is not a loopback address"},
		{[]string{"--admin-addr", ":8044"}, "--admin-token-env"},
		{[]string{"--admin-token-env", "CCGW_E2E_NO_SUCH_VAR"}, "$CCGW_E2E_NO_SUCH_VAR is empty"},
		{[]string{"--plaintext", "--cert", "c.pem", "--key", "k.pem"}, "cannot go with --plaintext"},
	} {
		code, out := runToExit(t, append([]string{"--addr", "127.0.0.1:0", "--data", dir}, tc.args...))
		if code != 2 || !strings.Contains(out, tc.want) || strings.Contains(out, "listening") {
			t.Errorf("ccgw %v: exit %d, output %q; want 2 and %q", tc.args, code, out, tc.want)
		}
	}
}

// runToExit runs the binary with args, which must make it exit by itself
// within 20s, and returns its exit code and output.
func runToExit(tb testing.TB, args []string) (int, string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		tb.Fatalf("ccgw %v still running after 20s:\n%s", args, out)
	}
	if err != nil && cmd.ProcessState == nil {
		tb.Fatalf("ccgw %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// sendAuth sends a request with the Authorization header auth (none if "").
func sendAuth(tb testing.TB, method, url, auth string) response {
	tb.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: b}
	r.err = json.Unmarshal(b, &r.env)
	return r
}

// getBody GETs url and returns its body; it fails tb unless the answer is 200.
func getBody(tb testing.TB, c *http.Client, url string) string {
	tb.Helper()
	resp, err := c.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: HTTP %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// metricValue returns the value of the unlabelled series name on p's /metrics
// (admin listener), failing tb if it is not there.
func metricValue(tb testing.TB, p *proc, name string) float64 {
	tb.Helper()
	body := getBody(tb, p.client, p.adminURL("/metrics"))
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				tb.Fatalf("%s: %v", l, err)
			}
			return f
		}
	}
	tb.Fatalf("/metrics has no %s", name)
	return 0
}
