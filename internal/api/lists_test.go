package api

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/loadtest"
)

// listGet sends GET path as agent 101 through h and returns the recorder.
func listGet(tb testing.TB, h http.Handler, guid, path, body string) *httptest.ResponseRecorder {
	tb.Helper()
	r := httptest.NewRequest(http.MethodGet, path, strings.NewReader(body))
	r.Header.Set("Guid", guid)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// listResult decodes the envelope of w into result, failing unless it is a
// success.
func listResult(tb testing.TB, w *httptest.ResponseRecorder, result any) {
	tb.Helper()
	var env struct {
		Retcode string          `json:"retcode"`
		Result  json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || w.Code != http.StatusOK || env.Retcode != "0" {
		tb.Fatalf("HTTP %d %.200s (%v)", w.Code, w.Body.Bytes(), err)
	}
	if err := json.Unmarshal(env.Result, result); err != nil {
		tb.Fatalf("result %.200s: %v", env.Result, err)
	}
}

// hdr returns header name of w as written: the write sets X-CCGW-* as spelled,
// not in Go's canonical form.
func hdr(w *httptest.ResponseRecorder, name string) string {
	if v := w.Header()[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func workNos(infos []agentInfo) []string {
	out := make([]string, len(infos))
	for i, inf := range infos {
		out[i] = inf.WorkNo
	}
	return out
}

// TestListAnswersCappedAndPaged signs 1,234 agents in (work numbers 101 up, all
// in skills 1 and 2) and checks the caps: agentbyskill answers 500 with
// X-CCGW-Truncated and X-CCGW-Next, ?after= pages through every agent exactly
// once in order, agentLimit still caps lower, and allonlineagents answers at most
// 500 a skill with X-CCGW-Truncated.
func TestListAnswersCappedAndPaged(t *testing.T) {
	const n = 1234
	h, m, _ := benchGateway(t, n)
	me, _ := m.Lookup(context.Background(), 101)
	var want []string
	for i := range n {
		want = append(want, strconv.Itoa(101+i))
	}

	var got []string
	next, pages := "", 0
	for range n { // bounded: each page takes at least one agent
		path := Prefix + "agentgroup/101/agentbyskill/1"
		if next != "" {
			path += "?after=" + next
		}
		w := listGet(t, h, me.GUID, path, "")
		var page []agentInfo
		listResult(t, w, &page)
		pages++
		if len(page) > maxListAgents {
			t.Fatalf("page %d: %d agents, cap %d", pages, len(page), maxListAgents)
		}
		got = append(got, workNos(page)...)
		trunc, nh := hdr(w, TruncatedHeader), hdr(w, NextHeader)
		if len(got) == n {
			if trunc != "" || nh != "" {
				t.Fatalf("last page: %s %q, %s %q; want neither", TruncatedHeader, trunc, NextHeader, nh)
			}
			break
		}
		if len(page) != maxListAgents || trunc != "true" || nh != page[len(page)-1].WorkNo {
			t.Fatalf("page %d: %d agents, %s %q, %s %q; want %d, true and the last work number",
				pages, len(page), TruncatedHeader, trunc, NextHeader, nh, maxListAgents)
		}
		next = nh
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("%d pages, %d agents (first %v); want 3 pages of all %d in order", pages, len(got), got[:min(3, len(got))], n)
	}

	// The vendor's filter: agentLimit with agentStatus (idle is 4).
	w := listGet(t, h, me.GUID, Prefix+"agentgroup/101/agentbyskill/1?after=200", `{"agentLimit":3,"agentStatus":[4]}`)
	var page []agentInfo
	listResult(t, w, &page)
	if !slices.Equal(workNos(page), []string{"201", "202", "203"}) || hdr(w, NextHeader) != "203" {
		t.Fatalf("agentLimit 3 after 200: %v, %s %q", workNos(page), NextHeader, hdr(w, NextHeader))
	}
	for _, bad := range []string{"x", "-1", "1000000", "1e3"} {
		w := listGet(t, h, me.GUID, Prefix+"agentgroup/101/agentbyskill/1?after="+bad, "")
		if !strings.Contains(w.Body.String(), `"retcode":"000-002"`) {
			t.Errorf("after=%s: %s, want 000-002", bad, w.Body.Bytes())
		}
	}

	w = listGet(t, h, me.GUID, Prefix+"agentgroup/101/allonlineagents", "")
	var groups []skillAgents
	listResult(t, w, &groups)
	if len(groups) != 2 || hdr(w, TruncatedHeader) != "true" {
		t.Fatalf("allonlineagents: %d groups, %s %q; want 2, true", len(groups), TruncatedHeader, hdr(w, TruncatedHeader))
	}
	for _, g := range groups {
		if !slices.Equal(workNos(g.Agent), want[:maxListAgents]) {
			t.Errorf("skill %d: %d agents, want the first %d", g.SkillID, len(g.Agent), maxListAgents)
		}
	}
}

// TestListAnswersAllOnlineTotalCap gives the caller more skills than the total
// cap covers: the groups after it come back empty, and the answer is marked cut.
func TestListAnswersAllOnlineTotalCap(t *testing.T) {
	h, m, _ := benchGateway(t, maxListAgents+1)
	me, _ := m.Lookup(context.Background(), 101)
	skills := make([]int, 0, maxAllOnlineAgents/maxListAgents+2)
	for range cap(skills) {
		skills = append(skills, 1)
	}
	if _, err := m.Update(context.Background(), 101, me.GUID, func(s *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
		s.Skills = skills
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	w := listGet(t, h, me.GUID, Prefix+"agentgroup/101/allonlineagents", "")
	var groups []skillAgents
	listResult(t, w, &groups)
	total := 0
	for _, g := range groups {
		total += len(g.Agent)
	}
	if len(groups) != len(skills) || total != maxAllOnlineAgents || hdr(w, TruncatedHeader) != "true" {
		t.Fatalf("%d groups, %d agents in all, %s %q; want %d, %d, true",
			len(groups), total, TruncatedHeader, hdr(w, TruncatedHeader), len(skills), maxAllOnlineAgents)
	}
}

// listAlloc returns the bytes and allocations one request of path costs, over
// runs requests: the least of five rounds, since the counts are the process's
// and anything else running (a parallel test, the race detector's runtime)
// can only add to them.
func listAlloc(h http.Handler, guid, path string, runs int) (bytes, allocs float64) {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("Guid", guid)
	w := &benchWriter{h: make(http.Header)}
	h.ServeHTTP(w, r) // warm up
	bytes, allocs = math.Inf(1), math.Inf(1)
	runtime.GC()
	for range 5 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			clear(w.h)
			w.status = 0
			h.ServeHTTP(w, r)
		}
		runtime.ReadMemStats(&after)
		bytes = min(bytes, float64(after.TotalAlloc-before.TotalAlloc)/float64(runs))
		allocs = min(allocs, float64(after.Mallocs-before.Mallocs)/float64(runs))
	}
	return bytes, allocs
}

// TestListAnswersCostBounded checks that a capped list costs the same whether
// 2,000 or 20,000 agents are signed in to the skill: what a request allocates
// is the page's, not the skill's (before the caps, each request copied every
// session of the skill: 10x more at 20,000).
func TestListAnswersCostBounded(t *testing.T) {
	paths := []string{"agentbyskill/1", "agentbyskill/1?after=700", "allonlineagents"}
	type cost struct{ bytes, allocs float64 }
	at := map[int][]cost{}
	for _, n := range []int{2000, 20000} {
		h, m, _ := benchGateway(t, n)
		me, _ := m.Lookup(context.Background(), 101)
		for _, p := range paths {
			b, a := listAlloc(h, me.GUID, Prefix+"agentgroup/101/"+p, 20)
			at[n] = append(at[n], cost{b, a})
		}
	}
	for i, p := range paths {
		small, big := at[2000][i], at[20000][i]
		t.Logf("%s: %.0f B, %.0f allocs at 2,000 agents; %.0f B, %.0f allocs at 20,000", p, small.bytes, small.allocs, big.bytes, big.allocs)
		// Bytes vary by a quarter from run to run (pooled buffers' sizes), the
		// allocations by under 1%: copying every session of the skill would
		// cost 10x of both.
		if big.bytes > 2*small.bytes || big.allocs > 1.3*small.allocs {
			t.Errorf("%s costs more with 10x the agents: %.0f B, %.0f allocs, was %.0f B, %.0f allocs",
				p, big.bytes, big.allocs, small.bytes, small.allocs)
		}
	}
}

// BenchmarkListQueries measures capped list queries through the real handler
// with 100,000 agents signed in to the skill.
//
//	go test -run '^$' -bench ListQueries -benchmem ./internal/api/
func BenchmarkListQueries(b *testing.B) {
	h, m, _ := benchGateway(b, 100000)
	me, _ := m.Lookup(context.Background(), 101)
	for _, p := range []string{"agentbyskill/1", "agentbyskill/1?after=90000", "allonlineagents"} {
		b.Run(p, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, Prefix+"agentgroup/101/"+p, nil)
			r.Header.Set("Guid", me.GUID)
			w := &benchWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.status, w.n = 0, 0
				h.ServeHTTP(w, r)
			}
			b.ReportMetric(float64(w.n), "bytes/answer")
		})
	}
}

// BenchmarkHandShakeDuringListQueries measures heartbeats through the handler
// while 8 goroutines send capped list queries without pause, with 100,000
// agents: the queries' cost is bounded, so the heartbeat's latency stays that of
// a machine that is busy, not of one that is out of memory.
func BenchmarkHandShakeDuringListQueries(b *testing.B) {
	h, m, rq := benchGateway(b, 100000)
	me, _ := m.Lookup(context.Background(), 101)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var queries atomic.Int64
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := []string{"agentbyskill/1", "allonlineagents"}[i%2]
			r := httptest.NewRequest(http.MethodGet, Prefix+"agentgroup/101/"+p, nil)
			r.Header.Set("Guid", me.GUID)
			w := &benchWriter{h: make(http.Header)}
			for {
				select {
				case <-stop:
					return
				default:
				}
				clear(w.h)
				h.ServeHTTP(w, r)
				queries.Add(1)
			}
		}()
	}
	c := newBenchClient(rq, 0)
	var hist loadtest.Histogram
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if !c.do(h) {
			b.Fatal("heartbeat failed")
		}
		hist.Record(time.Since(t0))
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(hist.Quantile(0.99).Microseconds()), "p99-µs")
	b.ReportMetric(float64(hist.Max().Microseconds()), "max-µs")
	b.ReportMetric(float64(queries.Load())/float64(b.N), "queries/op")
}
