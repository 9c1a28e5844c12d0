package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/wait"
)

// TestRotatedGUIDSurvivesKill rotates an agent's GUID twice in dynamic mode (a
// rotation writes nothing to the store), kills the gateway with SIGKILL and
// restarts it: the newest GUID, which the store never saw, is accepted, a forged
// one is not, and rotation carries on.
func TestRotatedGUIDSurvivesKill(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	flags := []string{"--auth-mode", "dynamic", "--guid-interval", "300ms", "--guid-timeout", "10s", "--heartbeat-timeout", "1m"}
	p1 := startGateway(t, data, flags...)
	const id = "1001"
	guid, _ := p1.signIn(t, id, "")
	guids := []string{guid}
	// rotate heartbeats with the newest GUID until the gateway hands out another.
	rotate := func(p *proc) string {
		t.Helper()
		var got string
		wait.For(t, 30*time.Second, 50*time.Millisecond, func() error {
			r := call(t, p.client, http.MethodPost, p.url("onlineagent/"+id+"/handshake"), guids[len(guids)-1], "")
			if r.env.Retcode != "0" {
				t.Fatalf("handshake with the newest GUID: %s", r.body)
			}
			g, ok := strings.CutPrefix(r.header.Get("Set-GUID"), "JSESSIONID=")
			if !ok || g == guids[len(guids)-1] {
				return fmt.Errorf("no new GUID yet")
			}
			got = g
			return nil
		})
		guids = append(guids, got)
		return got
	}
	rotate(p1)
	newest := rotate(p1)
	p1.kill()

	p2 := startGateway(t, data, flags...)
	if p2.restored != 1 {
		t.Fatalf("restored=%d, want 1", p2.restored)
	}
	forged := "00000063-" + newest[9:]
	if got := p2.handshake(t, id, forged); got != "000-003" {
		t.Errorf("handshake with a forged rotated GUID: %s, want 000-003", got)
	}
	r := call(t, p2.client, http.MethodPost, p2.url("onlineagent/"+id+"/handshake"), newest, "")
	if r.env.Retcode != "0" {
		t.Fatalf("handshake with the GUID rotated before the kill: %s", r.body)
	}
	// The line is written before the answer, but reaches the test's log reader
	// through a pipe: wait for it.
	p2.log.waitLine(t, 30*time.Second, "msg", "rotated GUID recovered", "agent", id)
	if code, _ := p2.status(t, id, newest); code != "0" {
		t.Errorf("agentstatus with the recovered GUID: %s", code)
	}
	if next := rotate(p2); next == newest || next == guids[0] {
		t.Errorf("rotation after the restart gave %q", next)
	}
	if n := len(p2.log.find("msg", "rotated GUID recovered", "agent", id)); n != 1 {
		t.Errorf("%d 'rotated GUID recovered' lines for %s, want 1", n, id)
	}
}

// TestGCPercent checks that the binary sets the collector's target from
// --gc-percent (default 200), as /metrics (on the admin listener) reports it.
func TestGCPercent(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{{nil, "go_gc_gogc_percent 200"}, {[]string{"--gc-percent", "300"}, "go_gc_gogc_percent 300"}} {
		p := startGateway(t, t.TempDir(), tt.args...)
		resp, err := p.client.Get(p.adminURL("/metrics"))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !strings.Contains(string(body), "\n"+tt.want+"\n") {
			t.Errorf("ccgw %v: /metrics lacks %q (%v)", tt.args, tt.want, err)
		}
		p.kill()
	}
}
