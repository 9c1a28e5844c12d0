package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/redistest"
	"github.com/ccgw/ccgw/internal/wait"
)

// Sign-in and callback security on the real binary: lockout across nodes,
// the empty password, inspectors, and the callback rules.

// writeAgents writes an --agents file with 1001 (S3cret!pw) and 1002
// (0ther!pw) and returns its path.
func writeAgents(tb testing.TB) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "agents.json")
	const file = `{"skills": [{"id": 1, "name": "Sales", "mediatype": 5}], "agents": [
		{"workNo": "1001", "name": "Alice", "password": "S3cret!pw", "skills": [1]},
		{"workNo": "1002", "name": "Bob", "password": "0ther!pw", "skills": [1]}]}`
	if err := os.WriteFile(p, []byte(file), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// signInCode sends a sign-in to path (onlineagent/<id>[/forcelogin|/loginex])
// and returns its retcode.
func (p *proc) signInCode(tb testing.TB, path, body string) string {
	tb.Helper()
	r := call(tb, p.client, http.MethodPut, p.url("onlineagent/"+path), "", body)
	if r.err != nil {
		tb.Fatalf("PUT %s: HTTP %d %q: %v", path, r.status, r.body, r.err)
	}
	return r.env.Retcode
}

// TestLockoutAcrossNodesE2E: two gateways on one Redis with --lockout-attempts
// 3 --lockout-duration 2s. Wrong passwords sent to either add up: the 3rd
// answers 110-016 and the right password then does too, on both nodes and
// every sign-in interface; the other agent signs in. Once the 2 s are over the
// right password signs in again.
func TestLockoutAcrossNodesE2E(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	agents := writeAgents(t)
	flags := []string{"--store", srv.URL(), "--agents", agents, "--lockout-attempts", "3", "--lockout-window", "1m", "--lockout-duration", "2s"}
	n1 := startGateway(t, t.TempDir(), append(flags, "--node-name", "AgentGateway1")...)
	n2 := startGateway(t, t.TempDir(), append(flags, "--node-name", "AgentGateway2")...)
	const wrong, right = `{"password":"guess","phonenum":"70001"}`, `{"password":"S3cret!pw","phonenum":"70001"}`
	for i, n := range []*proc{n1, n2} {
		if code := n.signInCode(t, "1001", wrong); code != "100-004" {
			t.Fatalf("wrong password %d: %s, want 100-004", i+1, code)
		}
	}
	if code := n1.signInCode(t, "1001", wrong); code != "110-016" {
		t.Fatalf("3rd wrong password: %s, want 110-016", code)
	}
	for _, n := range []*proc{n1, n2} {
		for _, path := range []string{"1001", "1001/forcelogin", "1001/loginex"} {
			if code := n.signInCode(t, path, right); code != "110-016" {
				t.Errorf("%s with the right password, locked: %s, want 110-016", path, code)
			}
		}
	}
	if code := n2.signInCode(t, "1002", `{"password":"0ther!pw","phonenum":"70002"}`); code != "0" {
		t.Errorf("the other agent: %s, want 0", code)
	}
	wait.For(t, 30*time.Second, 100*time.Millisecond, func() error {
		if code := n2.signInCode(t, "1001/forcelogin", right); code != "0" {
			return fmt.Errorf("right password: %s", code)
		}
		return nil
	})
}

// TestEmptyPasswordE2E: with --agents an empty password signs nobody in, on
// any interface (100-004; login and forceLogin refuse a missing password field
// as 100-001); with the built-in directory an empty password signs in.
func TestEmptyPasswordE2E(t *testing.T) { onEveryStore(t, testEmptyPasswordE2E) }

func testEmptyPasswordE2E(t *testing.T, store string) {
	p := startGatewayOn(t, store, "--agents", writeAgents(t))
	for path, missing := range map[string]string{"1001/loginex": "100-004", "1001": "100-001", "1001/forcelogin": "100-001"} {
		for body, want := range map[string]string{`{"password":"","phonenum":"70001"}`: "100-004", `{"phonenum":"70001"}`: missing} {
			if code := p.signInCode(t, path, body); code != want {
				t.Errorf("%s %s: %s, want %s", path, body, code, want)
			}
		}
	}
	open := startGatewayOn(t, store)
	if code := open.signInCode(t, "1001/loginex", `{"password":""}`); code != "0" {
		t.Errorf("built-in directory, loginEx without password: %s, want 0", code)
	}
	if code := open.signInCode(t, "1002", `{"password":"","phonenum":"70002"}`); code != "0" {
		t.Errorf("built-in directory, login with an empty password: %s, want 0", code)
	}
}

// TestInspectorsE2E: with the built-in directory nobody may force another
// agent out (900-002) unless --inspectors names them.
func TestInspectorsE2E(t *testing.T) { onEveryStore(t, testInspectorsE2E) }

func testInspectorsE2E(t *testing.T, store string) {
	for _, tc := range []struct {
		flags []string
		want  string
	}{{nil, "900-002"}, {[]string{"--inspectors", "1000-1001,2000"}, "0"}} {
		p := startGatewayOn(t, store, tc.flags...)
		g1, _ := p.signIn(t, "1001", "")
		p.signIn(t, "1002", "")
		r := call(t, p.client, http.MethodPost, p.url("qualitycontrol/1001/forcelogout/1002"), g1, "")
		if r.env.Retcode != tc.want {
			t.Errorf("%v: forcelogout by 1001: %s, want %s", tc.flags, r.body, tc.want)
		}
	}
}

// TestCallbackRulesE2E: on a gateway listening on loopback only (the laptop
// case) a receiver on 127.0.0.1 or [::1] is accepted (and the first one gets its
// events), but user information
// and link-local, metadata and unspecified addresses are refused (100-001).
// A receiver that redirects gets one POST, which counts as a failed push; the
// redirect's target gets nothing.
func TestCallbackRulesE2E(t *testing.T) { onEveryStore(t, testCallbackRulesE2E) }

func testCallbackRulesE2E(t *testing.T, store string) {
	p := startGatewayOn(t, store, "--heartbeat-timeout", keepTimeout.String())
	sink := newPushSink(t, false)
	for i, uri := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"http://[fe80::1]:8080/cb",
		"http://0.0.0.0:" + strings.Split(p.addr, ":")[1] + "/cb",
		"http://metadata.google.internal/cb",
		strings.Replace(sink.url(), "http://", "http://user:pw@", 1),
	} {
		if code := p.signInCode(t, fmt.Sprint(3001+i), pushLogin(uri)); code != "100-001" {
			t.Errorf("callBackUri %s: %s, want 100-001", uri, code)
		}
	}
	if code := p.signInCode(t, "3100", pushLogin(sink.url())); code != "0" {
		t.Fatalf("callBackUri on 127.0.0.1: %s, want 0", code)
	}
	wait.For(t, 30*time.Second, 20*time.Millisecond, func() error {
		if sink.pushed(evInService) != 1 {
			return fmt.Errorf("not delivered to the receiver on 127.0.0.1")
		}
		return nil
	})

	var leaked, asked atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { leaked.Add(1) }))
	t.Cleanup(target.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Redirect(w, r, target.URL+"/stolen", http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	if code := p.signInCode(t, "3200", pushLogin(redirector.URL+"/cb")); code != "0" {
		t.Fatalf("callBackUri of the redirecting receiver: %s, want 0", code)
	}
	// /metrics is on the admin listener (the vendor one answers it 404).
	wait.For(t, 30*time.Second, 50*time.Millisecond, func() error {
		if metricValue(t, p, "ccgw_push_failures_total") == 0 {
			return fmt.Errorf("no failed push attempt counted yet")
		}
		return nil
	})
	if asked.Load() == 0 || leaked.Load() != 0 {
		t.Fatalf("redirecting receiver asked %d times, its target %d; want at least 1, 0", asked.Load(), leaked.Load())
	}
	if code := p.signInCode(t, "3300", pushLogin("http://[::1]:9/cb")); code != "0" {
		t.Errorf("callBackUri on [::1]: %s, want 0", code)
	}
}
