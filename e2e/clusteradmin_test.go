package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/redistest"
)

// TestClusterAdminLists: on two nodes sharing one Redis, each node's admin
// API lists every node's agents, and a force-signout fault without a list of
// agents, started on one node, signs out every client of the cluster, each
// once, wherever it signed in.
func TestClusterAdminLists(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := startGateway(t, t.TempDir(), "--store", srv.URL(), "--node-name", "AgentGateway1", "--heartbeat-timeout", "10m")
	b := startGateway(t, t.TempDir(), "--store", srv.URL(), "--node-name", "AgentGateway2", "--heartbeat-timeout", "10m")
	g := map[string]string{}
	for i, id := range []string{"1001", "1002", "1003"} {
		p := []*proc{a, b}[i%2]
		g[id], _ = p.signIn(t, id, "")
		p.drain(t, id, g[id], evInService, "AgentState_Ready")
	}
	for _, p := range []*proc{a, b} {
		var page struct {
			Agents []struct {
				Agent string `json:"agent"`
			} `json:"agents"`
		}
		p.admin(t, http.MethodGet, "agents", "", &page)
		var got []string
		for _, x := range page.Agents {
			got = append(got, x.Agent)
		}
		if len(got) != 3 || got[0] != "1001" || got[1] != "1002" || got[2] != "1003" {
			t.Fatalf("%s lists %v, want every node's [1001 1002 1003]", p.addr, got)
		}
	}

	b.addFault(t, `{"kind":"force-signout"}`)
	for i, id := range []string{"1001", "1002", "1003"} {
		p := []*proc{b, a}[i%2] // collected through the other node than the sign-in's
		p.drain(t, id, g[id], "AgentOther_ShutdownService")
		if env := p.poll(t, id, g[id]); env.Retcode != "100-006" {
			t.Errorf("%s poll after its shutdown: %s, want 100-006", id, env.Retcode)
		}
	}
	for _, id := range []string{"1001", "1002", "1003"} {
		b.log.waitLine(t, 5*time.Second, "msg", "signed out", "agent", id, "cause", "supervisor")
	}
	if n := len(a.log.find("msg", "signed out")); n != 0 {
		t.Errorf("node A logged %d sign-outs; B signed them out, each once", n)
	}
}
