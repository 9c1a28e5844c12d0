package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/ccgw/ccgw/internal/redistest"
)

// changePassword calls modifyAccountPwdEx (interfaces.md §25) and returns its retcode.
func (p *proc) changePassword(tb testing.TB, id, guid, old, next string) string {
	tb.Helper()
	b, _ := json.Marshal(map[string]string{"oldPassword": old, "newPassword": next})
	r := call(tb, p.client, http.MethodPost, p.url("onlineagent/"+id+"/modifyaccountpwdex"), guid, string(b))
	if r.err != nil {
		tb.Fatalf("modifyAccountPwdEx %s: HTTP %d %q: %v", id, r.status, r.body, r.err)
	}
	return r.env.Retcode
}

// forceLogin signs agent id in with password pw, ending a session it may have,
// and returns the retcode and the new GUID.
func (p *proc) forceLogin(tb testing.TB, id, pw string) (string, string) {
	tb.Helper()
	b, _ := json.Marshal(map[string]string{"password": pw, "phonenum": "70001"})
	r := call(tb, p.client, http.MethodPut, p.url("onlineagent/"+id+"/forcelogin"), "", string(b))
	guid, _ := strings.CutPrefix(r.header.Get("Set-GUID"), "JSESSIONID=")
	return r.env.Retcode, guid
}

// TestPasswordSurvivesKill changes a password (modifyAccountPwdEx), kills the
// gateway with SIGKILL as soon as the change is answered, and restarts it on the
// same data: the new password signs in, the old one is refused with 100-004,
// and the rules still know the history (110-019).
func TestPasswordSurvivesKill(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	const id = "1001"
	p1 := startGateway(t, data)
	guid, _ := p1.signIn(t, id, `{"password":"anything","phonenum":"70001"}`)
	if code := p1.changePassword(t, id, guid, "anything", "Gr8!Pass"); code != "0" {
		t.Fatalf("modifyAccountPwdEx: retcode %s, want 0", code)
	}
	p1.kill()

	p2 := startGateway(t, data)
	for _, pw := range []string{"anything", "other", "gr8!pass"} {
		if code, _ := p2.forceLogin(t, id, pw); code != "100-004" {
			t.Errorf("forceLogin with %q after the restart: retcode %s, want 100-004", pw, code)
		}
	}
	code, guid := p2.forceLogin(t, id, "Gr8!Pass")
	if code != "0" {
		t.Fatalf("forceLogin with the new password after the restart: retcode %s, want 0", code)
	}
	if code := p2.changePassword(t, id, guid, "Gr8!Pass", "anything"); code != "110-019" {
		t.Errorf("back to the password before (one of the last 5): retcode %s, want 110-019", code)
	}
	// Another agent of the built-in directory still signs in with any password.
	p2.signIn(t, "1002", "")
}

// TestPasswordAcrossNodes runs two gateways on one Redis: a password changed
// through node 1 signs in on node 2 at once, and the old one is refused there.
func TestPasswordAcrossNodes(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	n1 := startGateway(t, t.TempDir(), "--store", srv.URL(), "--node-name", "AgentGateway1")
	n2 := startGateway(t, t.TempDir(), "--store", srv.URL(), "--node-name", "AgentGateway2")
	const id = "1001"
	guid, _ := n1.signIn(t, id, `{"password":"anything","phonenum":"70001"}`)
	if code := n1.changePassword(t, id, guid, "anything", "Gr8!Pass"); code != "0" {
		t.Fatalf("modifyAccountPwdEx on node 1: retcode %s, want 0", code)
	}
	if code, _ := n2.forceLogin(t, id, "anything"); code != "100-004" {
		t.Errorf("old password on node 2: retcode %s, want 100-004", code)
	}
	code, guid := n2.forceLogin(t, id, "Gr8!Pass")
	if code != "0" {
		t.Fatalf("new password on node 2: retcode %s, want 0", code)
	}
	// And back: a change through node 2 holds on node 1.
	if code := n2.changePassword(t, id, guid, "Gr8!Pass", "N3w!Pass"); code != "0" {
		t.Fatalf("modifyAccountPwdEx on node 2: retcode %s, want 0", code)
	}
	if code, _ := n1.forceLogin(t, id, "Gr8!Pass"); code != "100-004" {
		t.Errorf("node 2's old password on node 1: retcode %s, want 100-004", code)
	}
	if code, _ := n1.forceLogin(t, id, "N3w!Pass"); code != "0" {
		t.Errorf("node 2's new password on node 1: retcode %s, want 0", code)
	}
}
