package e2e

import (
	"testing"
	"time"
)

func TestZZDebugTerm(t *testing.T) {
	p := startGateway(t, t.TempDir())
	g, _ := p.signIn(t, "1001", "")
	_ = g
	s := time.Now()
	p.terminate(10 * time.Second)
	t.Logf("term took %v", time.Since(s))
	for _, l := range p.log.all() {
		t.Log(l.raw)
	}
	t.Log(p.cmd.ProcessState.UserTime(), p.cmd.ProcessState.SystemTime())
}
