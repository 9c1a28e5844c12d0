package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/wait"
)

// TestSecretsNeverLogged runs a full session life on the real binary at debug
// level — passwords, a password change, dynamic GUIDs rotating, updateGuid, a
// push-mode agent with a service token and signed pushes, wrong GUIDs, a
// forced sign-in, a client sending a huge agent ID — and then greps every log
// line for every secret it saw: no full GUID, password, service token, push
// secret or signature may appear, and no line repeats more than a bounded
// part of what a client sent.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	const pushSecret = "push-secret-9f2c7e1a"
	os.Setenv("CCGW_E2E_PUSH_SECRET", pushSecret)

	var mu sync.Mutex
	var signatures []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		signatures = append(signatures, r.Header.Get("X-CCGW-Signature"))
		mu.Unlock()
		io.WriteString(w, `{"message":"success","retcode":"0"}`)
	}))
	t.Cleanup(rcv.Close)

	p := startGateway(t, t.TempDir(), "--log-level", "debug", "--auth-mode", "dynamic",
		"--guid-interval", "300ms", "--guid-timeout", "900ms", "--push-secret-env", "CCGW_E2E_PUSH_SECRET")
	secrets := []string{pushSecret}
	note := func(s string) {
		if s != "" {
			secrets = append(secrets, s)
		}
	}
	setGUID := func(r response) {
		if g, ok := strings.CutPrefix(r.header.Get("Set-GUID"), "JSESSIONID="); ok {
			note(g)
		}
	}

	// A poll-mode agent: password, change of password, rotation, updateGuid.
	const pw1, pw2 = "Pw1-first-4b7d!x", "Pw2-second-8e1a!y"
	note(pw1)
	note(pw2)
	g, _ := p.signIn(t, "1001", `{"password":"`+pw1+`","phonenum":"70001"}`)
	note(g)
	r := call(t, p.client, http.MethodPost, p.url("onlineagent/1001/modifyaccountpwdex"), g,
		`{"oldPassword":"`+pw1+`","newPassword":"`+pw2+`"}`)
	if r.env.Retcode != "0" {
		t.Fatalf("modifyaccountpwdex: %s", r.body)
	}
	deadline := time.Now().Add(time.Minute) // a guard; rotations come every GUIDINTERVAL
	for rotations := 0; rotations < 2; {
		if time.Now().After(deadline) {
			t.Fatal("no two GUID rotations within a minute")
		}
		r := call(t, p.client, http.MethodPost, p.url("onlineagent/1001/handshake"), g, "")
		if next, ok := strings.CutPrefix(r.header.Get("Set-GUID"), "JSESSIONID="); ok && next != g {
			note(next)
			g = next
			rotations++
		}
		time.Sleep(50 * time.Millisecond)
	}
	r = call(t, p.client, http.MethodPut, p.url("onlineagent/1001/updateGuid"), g, "")
	setGUID(r)
	g = strings.TrimPrefix(r.header.Get("Set-GUID"), "JSESSIONID=")
	call(t, p.client, http.MethodPost, p.url("onlineagent/1001/handshake"), "0badc0de-1111-2222-3333-444455556666.AgentGateway0", "")
	r = call(t, p.client, http.MethodPut, p.url("onlineagent/1001/forcelogin"), "", `{"password":"`+pw2+`","phonenum":"70001"}`)
	setGUID(r)
	note("0badc0de-1111-2222-3333-444455556666.AgentGateway0")

	// A push-mode agent with a service token, renewed on the heartbeat.
	const tok1, tok2 = "tok-first-5c3e9a", "tok-second-7d2f1b"
	note(tok1)
	note(tok2)
	gp, _ := p.signIn(t, "1002", `{"password":"pw-push-3a9c!","phonenum":"70002","callBackUri":"`+rcv.URL+`/cb","serviceToken":"`+tok1+`"}`)
	note(gp)
	note("pw-push-3a9c!")
	req, _ := http.NewRequest(http.MethodPost, p.url("onlineagent/1002/handshake"), nil)
	req.Header.Set("Guid", gp)
	req.Header["service_token"] = []string{tok2}
	if resp, err := p.client.Do(req); err == nil {
		resp.Body.Close()
	}
	call(t, p.client, http.MethodPost, p.url("onlineagent/1002/saybusy"), gp, "")
	wait.For(t, 30*time.Second, 20*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(signatures) < 2 {
			return fmt.Errorf("%d pushes", len(signatures))
		}
		return nil
	})

	// A client sending a huge agent ID and a huge Guid.
	huge := strings.Repeat("9", 5000)
	call(t, p.client, http.MethodPost, p.url("onlineagent/"+huge+"/handshake"), strings.Repeat("g", 4000), "")
	call(t, p.client, http.MethodDelete, p.url("onlineagent/1001/logout"), g, "")

	mu.Lock()
	for _, s := range signatures {
		if _, v1, ok := strings.Cut(s, "v1="); ok {
			note(v1)
		}
	}
	mu.Unlock()

	lines := p.log.all()
	if len(lines) < 10 {
		t.Fatalf("only %d log lines: the run did not happen", len(lines))
	}
	for _, l := range lines {
		for _, s := range secrets {
			if strings.Contains(l.raw, s) {
				t.Errorf("log line carries a secret (%.12s…): %s", s, l.raw)
			}
		}
		if len(l.raw) > 1000 {
			t.Errorf("log line of %d bytes: a client's input is repeated unbounded: %.200s…", len(l.raw), l.raw)
		}
	}
}
