package report

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// BenchmarkObserve measures Observe for a heartbeat answered "0", the agents
// visited in a pseudo-random order (as BenchmarkHandShake in internal/api), with
// the default journal and without one. At 100000 agents, beyond the default
// MaxAgents, most are not tracked: the cost of refusing them.
//
//	go test -run '^$' -bench Observe -benchmem ./internal/report/
func BenchmarkObserve(b *testing.B) {
	for _, agents := range []int{1000, 10000, 100000} {
		for _, journal := range []int{0, -1} {
			b.Run(fmt.Sprintf("agents=%d/journal=%d", agents, journal), func(b *testing.B) {
				r := New(Config{Journal: journal, PollTimeout: 2 * time.Minute, PushTimeout: 2 * time.Minute})
				ids := rand.New(rand.NewPCG(1, 2)).Perm(agents)
				at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
				q := Request{Method: mHandShake, HTTP: "POST", Path: "/agentgateway/resource/onlineagent/{agentid}/handshake",
					Code: ccgw.RetOK, Status: 200, Took: 20 * time.Microsecond}
				for _, id := range ids {
					q.Agent, q.Start = ccgw.MinAgentID+ccgw.AgentID(id), at
					r.Observe(&q)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					q.Agent = ccgw.MinAgentID + ccgw.AgentID(ids[i])
					q.Start = at.Add(time.Duration(i) * time.Microsecond)
					r.Observe(&q)
					if i++; i == len(ids) {
						i = 0
					}
				}
			})
		}
	}
}
