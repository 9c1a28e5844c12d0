package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/push"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// Event delivery benchmarks (issue 4, STYLE.md §4). Like the heartbeat's, every
// benchmark builds its sessions itself, so plain `go test` never pays for them.
//
//	go test -run '^$' -bench PollThroughput -benchtime 10x ./internal/api/
//	go test -run '^$' -bench HandShakeWithPush -benchtime 2s ./internal/api/

// benchEvAgents is the number of signed-in agents events go to.
const benchEvAgents = 10000

// benchPollers is the number of client goroutines that poll, each with its own
// keep-alive connection.
const benchPollers = 64

// benchPushPath is the receiver's path; the receiver answers every path alike.
const benchPushPath = "/service-cloud/rest/cc-ai/v1/agentevent/pushresult"

// benchEmit is what benchEmitOne makes: one event, as a state change makes one.
var benchEmit = []ccgw.Emit{{Type: ccgw.EvSetNotReadySuccess, Content: json.RawMessage(`{"reason":"0"}`)}}

// benchEmitOne is a cheap Update function that changes nothing and emits one event.
func benchEmitOne(*ccgw.Session, time.Time) ([]ccgw.Emit, error) { return benchEmit, nil }

// benchAgents signs in n agents from first on m, in push mode to url if url is
// not "", and returns their IDs and GUIDs.
func benchAgents(tb testing.TB, m *session.Service, first ccgw.AgentID, n int, url string) ([]ccgw.AgentID, []string) {
	tb.Helper()
	ids := make([]ccgw.AgentID, n)
	guids := make([]string, n)
	for i := range n {
		id := first + ccgw.AgentID(i)
		s := ccgw.Session{Agent: id, Phone: "70001", IP: "127.0.0.1", MediaType: "TTF"}
		if url != "" {
			s.Mode, s.CallbackURI, s.ServiceToken = ccgw.ModePush, url, "token"
		}
		got, err := m.SignIn(context.Background(), ccgw.SignIn{Op: "login", Password: "secret", Status: ccgw.StateIdle, Session: s})
		if err != nil {
			tb.Fatalf("sign in %d: %v", id, err)
		}
		ids[i], guids[i] = id, got.GUID
	}
	return ids, guids
}

// benchHTTPClient is a keep-alive client that keeps up to conns idle
// connections to one host, so that no request dials after the first round.
func benchHTTPClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
}

// benchPollRound GETs per events for each agent, one agent's in order, from
// benchPollers goroutines, and returns how many answers were 200 with an event
// (an X-CCGW-Seq header) and the first error.
func benchPollRound(client *http.Client, urls, guids []string, per int) (int64, error) {
	var next, got atomic.Int64
	var errOnce sync.Once
	var first error
	var wg sync.WaitGroup
	for range benchPollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(urls) {
					return
				}
				for range per {
					req, err := http.NewRequest(http.MethodGet, urls[i], nil)
					if err != nil {
						errOnce.Do(func() { first = err })
						return
					}
					req.Header["Guid"] = []string{guids[i]}
					resp, err := client.Do(req)
					if err != nil {
						errOnce.Do(func() { first = err })
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK && resp.Header.Get(ccgw.SeqHeader) != "" {
						got.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	return got.Load(), first
}

// benchBarePoll is the baseline: a bare handler that writes a poll answer's
// headers and body without looking at the request.
func benchBarePoll(body []byte, seq string) http.Handler {
	size := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h[ccgw.SeqHeader] = []string{seq}
		h.Set("Content-Length", size)
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})
}

// BenchmarkPollThroughput measures events per second delivered by polling: 10k
// signed-in polling-mode agents on a real session service (one node, in memory),
// behind the real handler served by httptest over loopback. One op is one
// round: Update queues events=K events for every agent (K updates of one
// event each), then benchPollers keep-alive clients drain them with
// GET .../agentevent/{id}, one event per answer, and the round ends when every
// event was answered. events/s counts both halves; produce-ns/event is the
// Update half alone.
//
// After each round, untimed, the same clients send the same number of GETs to a
// bare net/http handler on another loopback server, which answers a real poll
// answer's headers and body without looking at the request: bare-events/s is its
// rate, and "ratio" the gateway's time per event over the bare handler's. The
// two alternate round by round, so a change in the (shared) machine's load falls
// on both alike.
func BenchmarkPollThroughput(b *testing.B) {
	for _, per := range []int{1, 10} {
		b.Run(fmt.Sprintf("agents=%d/events=%d", benchEvAgents, per), func(b *testing.B) {
			m, _, urls, guids := benchPollGateway(b, benchEvAgents)
			body, seq := benchPollAnswer(b)
			bare := httptest.NewServer(benchBarePoll(body, seq))
			defer bare.Close()
			bareURLs := make([]string, len(urls))
			for i, u := range urls {
				bareURLs[i] = bare.URL + u[strings.Index(u, Prefix):]
			}
			client := benchHTTPClient(2 * benchPollers)
			defer client.CloseIdleConnections()
			want := int64(len(urls) * per)
			before := m.Stats(context.Background()).Polled
			b.ReportAllocs()
			var total int64
			var produce, bareTime time.Duration
			for b.Loop() {
				t0 := time.Now()
				for j := range urls {
					id := ccgw.MinAgentID + ccgw.AgentID(j)
					for range per {
						if _, err := m.UpdateAny(context.Background(), id, benchEmitOne); err != nil {
							b.Fatal(err)
						}
					}
				}
				produce += time.Since(t0)
				got, err := benchPollRound(client, urls, guids, per)
				if err != nil || got != want {
					b.Fatalf("%d of %d polls got an event; err %v", got, want, err)
				}
				total += got

				b.StopTimer()
				t0 = time.Now()
				got, err = benchPollRound(client, bareURLs, guids, per)
				if err != nil || got != want {
					b.Fatalf("bare: %d of %d answers had an event; err %v", got, want, err)
				}
				bareTime += time.Since(t0)
				b.StartTimer()
			}
			secs := b.Elapsed().Seconds()
			if polled := m.Stats(context.Background()).Polled - before; polled != uint64(total) {
				b.Fatalf("manager handed out %d events, clients got %d", polled, total)
			}
			b.ReportMetric(float64(total)/secs, "events/s")
			b.ReportMetric(float64(total)/bareTime.Seconds(), "bare-events/s")
			b.ReportMetric(secs/bareTime.Seconds(), "ratio")
			b.ReportMetric(float64(produce.Nanoseconds())/float64(total), "produce-ns/event")
		})
	}
}

// benchPollGateway signs n polling-mode agents in (IDs 101 up) on a node
// with an in-memory store, serves the real handler on loopback, takes the
// sign-in events out of the queues, and returns the node, the server and each
// agent's poll URL and GUID.
func benchPollGateway(b *testing.B, n int) (*session.Service, *httptest.Server, []string, []string) {
	b.Helper()
	m, err := session.New(session.Config{SessionSettings: ccgw.SessionSettings{Directory: benchDirectory{}}, Store: mem.NewShared(), Local: true})
	if err != nil {
		b.Fatal(err)
	}
	ids, guids := benchAgents(b, m, ccgw.MinAgentID, n, "")
	for i, id := range ids {
		for {
			ev, _, err := m.Poll(context.Background(), id, guids[i], 0)
			if err != nil {
				b.Fatal(err)
			}
			if ev == nil {
				break
			}
		}
	}
	srv := httptest.NewServer(New(Config{Sessions: m, Directory: agent.Default(), PollWait: time.Second}))
	b.Cleanup(srv.Close)
	urls := make([]string, n)
	for i, id := range ids {
		urls[i] = srv.URL + Prefix + "agentevent/" + id.String()
	}
	return m, srv, urls, guids
}

// benchPollAnswer returns a real poll answer's body and X-CCGW-Seq, for the
// baseline: one agent, one event through the real handler.
func benchPollAnswer(b *testing.B) ([]byte, string) {
	m, srv, urls, guids := benchPollGateway(b, 1)
	defer srv.Close()
	if _, err := m.UpdateAny(context.Background(), ccgw.MinAgentID, benchEmitOne); err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, urls[0], nil)
	req.Header["Guid"] = []string{guids[0]}
	resp, err := srv.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), ccgw.EvSetNotReadySuccess) {
		b.Fatalf("poll answer %d %s, err %v", resp.StatusCode, body, err)
	}
	return body, resp.Header.Get(ccgw.SeqHeader)
}

// benchReceiver is a push receiver on loopback that accepts every push.
func benchReceiver(tb testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		io.WriteString(w, benchBody)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// benchPushSide is a node's push delivery: its push-mode agents and the
// Pusher its Config.Notify calls, which a benchmark can swap.
type benchPushSide struct {
	m      *session.Service
	ids    []ccgw.AgentID
	pusher atomic.Pointer[push.Pusher]
}

func (ps *benchPushSide) notify(id ccgw.AgentID) {
	if p := ps.pusher.Load(); p != nil {
		p.Notify(id)
	}
}

// use replaces the Pusher with a started one of workers workers (0: the
// default) and waits until the agents' queues are empty.
func (ps *benchPushSide) use(tb testing.TB, workers int) *push.Pusher {
	tb.Helper()
	p := push.New(push.Config{Source: ps.m, Workers: workers, Policy: &push.CallbackPolicy{AllowPrivate: true}})
	p.Start()
	if old := ps.pusher.Swap(p); old != nil {
		old.Close()
	}
	for _, id := range ps.ids { // anything left over
		p.Notify(id)
	}
	ps.idle(tb)
	return p
}

// idle waits until no push-mode agent has an event queued.
func (ps *benchPushSide) idle(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for _, id := range ps.ids {
		for {
			t, ok := ps.m.PushTarget(id)
			if !ok || len(t.Queue.Peek(1)) == 0 {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("agent %d's events were not pushed within a minute", id)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// benchPushNode returns a node (in memory) whose Notify goes to the
// returned side's Pusher (the default one, started), with n push-mode agents
// from first pushing to rcv; their sign-in events are pushed before it returns.
func benchPushNode(tb testing.TB, first ccgw.AgentID, n int, rcv *httptest.Server) *benchPushSide {
	tb.Helper()
	ps := &benchPushSide{}
	m, err := session.New(session.Config{
		SessionSettings: ccgw.SessionSettings{
			Directory: benchDirectory{},
			Notify:    ps.notify,
		},
		Store: mem.NewShared(), Local: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	ps.m = m
	tb.Cleanup(func() {
		if p := ps.pusher.Load(); p != nil {
			p.Close()
		}
	})
	ps.ids, _ = benchAgents(tb, m, first, n, rcv.URL+benchPushPath)
	ps.use(tb, 0)
	return ps
}

// load keeps pushes flowing until stop is called, through Update of the
// push-mode agents, one event each: with rate 0 round after round, each round
// one event per agent and the next once the Pusher delivered it; else rate
// events per second, spread over 10ms ticks. stop returns once the Pusher
// delivered every event load queued.
func (ps *benchPushSide) load(tb testing.TB, rate int) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	p := ps.pusher.Load()
	d0 := p.Stats().Delivered // the side is idle
	var queued atomic.Uint64
	emit := func(id ccgw.AgentID) {
		if _, err := ps.m.UpdateAny(context.Background(), id, benchEmitOne); err == nil {
			queued.Add(1)
		}
	}
	go func() {
		defer close(done)
		if rate == 0 {
			for {
				for _, id := range ps.ids {
					emit(id)
				}
				for p.Stats().Delivered-d0 < queued.Load() {
					select {
					case <-quit:
						return
					case <-time.After(200 * time.Microsecond):
					}
				}
			}
		}
		const tick = 10 * time.Millisecond
		per := max(1, rate/int(time.Second/tick))
		t := time.NewTicker(tick)
		defer t.Stop()
		i := 0
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			for range per {
				emit(ps.ids[i])
				if i++; i == len(ps.ids) {
					i = 0
				}
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		if !benchDelivered(p, d0+queued.Load(), time.Minute) {
			tb.Fatalf("push: %+v, want %d delivered", p.Stats(), d0+queued.Load())
		}
	}
}

// benchDelivered waits until p delivered want events, or for up to limit.
func benchDelivered(p *push.Pusher, want uint64, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for p.Stats().Delivered < want {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Microsecond)
	}
	return true
}

// benchProcCPU returns the CPU time the process used, from /proc/self/stat
// (assuming 100 ticks a second), and false where there is no such file.
func benchProcCPU() (time.Duration, bool) {
	raw, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// benchHostCPU returns the CPU time all processes used, from /proc/stat's cpu
// line (user, nice, system, irq, softirq, steal; 100 ticks a second), and false
// where there is no such file.
func benchHostCPU() (time.Duration, bool) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, false
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += v
	}
	return time.Duration(ticks) * 10 * time.Millisecond, true
}

// benchGCs returns the number of completed GC cycles.
func benchGCs() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// benchServeWatched is benchServe that also reports, over the timed loop, the
// process's CPU use in cores (cpu-cores), the GC cycles (gc-cycles) and, if bg
// is not nil, the events it delivered per second (bg-events/s) and its mean
// push limit (push-limit, summed over receivers), and the CPU
// other processes on the host used meanwhile, in cores (other-cores). The requests
// run under the pprof label bench=<the benchmark's name>, so that a CPU profile
// tells the heartbeat's own CPU time from the rest (-tagfocus). It returns
// ns/op.
func benchServeWatched(b *testing.B, h http.Handler, rq *benchRequests, bg *push.Pusher) float64 {
	benchCheck(b, h, rq)
	c := newBenchClient(rq, 0)
	runtime.GC()
	b.ReportAllocs()
	var d0 uint64
	var limits func() float64
	if bg != nil {
		d0 = bg.Stats().Delivered
		limits = benchLimits(bg)
	}
	defer pprof.SetGoroutineLabels(context.Background())
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("bench", b.Name())))
	gc0 := benchGCs()
	cpu0, cpuOK := benchProcCPU()
	host0, hostOK := benchHostCPU()
	t0 := time.Now()
	bad := 0
	for b.Loop() {
		if !c.do(h) {
			bad++
		}
	}
	wall := time.Since(t0)
	cpu1, _ := benchProcCPU()
	host1, _ := benchHostCPU()
	gcs := benchGCs() - gc0
	if bad > 0 || c.w.n != b.N*len(benchBody) {
		b.Fatalf("%d of %d requests failed; %d body bytes, want %d", bad, b.N, c.w.n, b.N*len(benchBody))
	}
	if cpuOK {
		b.ReportMetric((cpu1-cpu0).Seconds()/wall.Seconds(), "cpu-cores")
		if hostOK {
			b.ReportMetric(max(0, (host1-host0-(cpu1-cpu0)).Seconds()/wall.Seconds()), "other-cores")
		}
	}
	b.ReportMetric(float64(gcs), "gc-cycles")
	if bg != nil {
		b.ReportMetric(float64(bg.Stats().Delivered-d0)/wall.Seconds(), "bg-events/s")
		b.ReportMetric(limits(), "push-limit")
	}
	return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
}

// benchLimits samples p's per-receiver push limits (summed) every 10ms until
// the returned function is called, which returns their mean.
func benchLimits(p *push.Pusher) func() float64 {
	quit := make(chan struct{})
	done := make(chan struct{})
	var n, sum int
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			n++
			for _, r := range p.Receivers() {
				sum += r.Limit
			}
		}
	}()
	return func() float64 {
		close(quit)
		<-done
		return float64(sum) / float64(max(n, 1))
	}
}

// benchAltWindow is the number of heartbeats between two switches of
// benchServeAlternating, about a tenth of a second.
const benchAltWindow = 100000

// benchServeAlternating runs the heartbeats in windows of benchAltWindow,
// switching side's push load (load(rate)) on and off between windows, untimed
// (on: started 20ms before the window; off: every event it queued delivered).
// It reports the heartbeat's ns/op over the off windows (off-ns/op) and over the
// on windows (on-ns/op), and their ratio: a slow change in the machine's load
// (the host is shared) falls on both alike. other-cores is as in
// benchServeWatched, over all windows.
func benchServeAlternating(b *testing.B, h http.Handler, rq *benchRequests, side *benchPushSide, rate int) {
	benchCheck(b, h, rq)
	c := newBenchClient(rq, 0)
	runtime.GC()
	b.ReportAllocs()
	var spent [2]time.Duration // [off, on]
	var ops [2]int
	var other time.Duration // CPU time of other processes in the windows
	var stop func()
	on := 0
	k, bad := 0, 0
	cpu0, _ := benchProcCPU()
	host0, hostOK := benchHostCPU()
	t0 := time.Now()
	for b.Loop() {
		if !c.do(h) {
			bad++
		}
		if k++; k == benchAltWindow {
			spent[on] += time.Since(t0)
			ops[on] += k
			k = 0
			b.StopTimer()
			cpu1, _ := benchProcCPU()
			host1, _ := benchHostCPU()
			other += host1 - host0 - (cpu1 - cpu0)
			if on == 1 {
				stop()
			} else {
				stop = side.load(b, rate)
				time.Sleep(20 * time.Millisecond)
			}
			on = 1 - on
			b.StartTimer()
			cpu0, _ = benchProcCPU()
			host0, _ = benchHostCPU()
			t0 = time.Now()
		}
	}
	spent[on] += time.Since(t0)
	ops[on] += k
	cpu1, _ := benchProcCPU()
	host1, _ := benchHostCPU()
	other += host1 - host0 - (cpu1 - cpu0)
	if on == 1 {
		stop()
	}
	if bad > 0 || c.w.n != b.N*len(benchBody) {
		b.Fatalf("%d of %d requests failed; %d body bytes, want %d", bad, b.N, c.w.n, b.N*len(benchBody))
	}
	if ops[0] == 0 || ops[1] == 0 {
		return // too short to compare
	}
	off := float64(spent[0].Nanoseconds()) / float64(ops[0])
	onNs := float64(spent[1].Nanoseconds()) / float64(ops[1])
	b.ReportMetric(off, "off-ns/op")
	b.ReportMetric(onNs, "on-ns/op")
	b.ReportMetric(onNs/off, "ratio")
	if hostOK {
		b.ReportMetric(max(0, other.Seconds()/(spent[0]+spent[1]).Seconds()), "other-cores")
	}
}

// BenchmarkHandShakeWithPush measures the heartbeat (as BenchmarkHandShake
// does, through the real handler; sessions=10000 polling-mode agents) with and
// without push delivery running in the same process. The same node holds
// 10k push-mode agents too, wired to a real push.Pusher (Config.Notify →
// Pusher.Notify, the node its Source; up to 256 workers, as many in flight
// as the receiver's adaptive limit allows) that pushes to a local receiver on
// loopback.
//
//   - push=off: the push-mode agents and the Pusher are there, idle.
//   - push=on: a goroutine keeps pushes flowing as fast as the Pusher delivers
//     them: round after round of one event per push-mode agent, through
//     Update.
//   - push=on/rate=10000: 10,000 events a second (one per push-mode agent a
//     second), through Update.
//   - push=on/workers=16: as push=on, with a Pusher of 16 workers (so a limit
//     of at most 16).
//   - push=on/other-manager: as push=on, but the push-mode agents live on a
//     second node with its own Pusher: the same competition for CPU, no
//     shared session table or counters.
//   - alternating, alternating/rate=10000, alternating/workers=16: push=off
//     and push=on (or its rate=10000 or workers=16 variant) in windows of 100k
//     heartbeats, one after the other, with off-ns/op, on-ns/op and their ratio
//     (benchServeAlternating).
//
// Each push=on line reports "ratio", its ns/op over that of the last push=off
// run before it with the same GOMAXPROCS (with -count, all push=off runs come
// first), bg-events/s, the events pushed while it was timed, and push-limit,
// the receiver's push limit sampled every 10ms and averaged. Every line
// reports cpu-cores (process CPU time over wall time, from /proc/self/stat; at
// most GOMAXPROCS, 2 on the reference machine), other-cores (the same for every
// other process on the host: a shared host's noise) and gc-cycles. B/op and
// allocs/op count the whole process, the pushing too.
func BenchmarkHandShakeWithPush(b *testing.B) {
	const n = 10000
	rcv := benchReceiver(b)
	side := benchPushNode(b, 500000, benchEvAgents, rcv)         // push-mode agents 500000 up
	ids, guids := benchAgents(b, side.m, ccgw.MinAgentID, n, "") // polling-mode agents 101 up
	h := New(Config{Sessions: side.m, Directory: agent.Default()})
	rq := newBenchRequests(ids, guids)

	off := make(map[int]float64) // push=off's last ns/op by GOMAXPROCS (-cpu)
	name := fmt.Sprintf("sessions=%d/", n)
	b.Run(name+"push=off", func(b *testing.B) {
		off[runtime.GOMAXPROCS(0)] = benchServeWatched(b, h, rq, nil)
	})
	on := func(b *testing.B, ps *benchPushSide, rate int) {
		stop := ps.load(b, rate)
		ns := benchServeWatched(b, h, rq, ps.pusher.Load())
		stop()
		if o := off[runtime.GOMAXPROCS(0)]; o > 0 {
			b.ReportMetric(ns/o, "ratio")
		}
	}
	b.Run(name+"push=on", func(b *testing.B) { on(b, side, 0) })
	b.Run(name+"push=on/rate=10000", func(b *testing.B) { on(b, side, 10000) })
	b.Run(name+"push=on/workers=16", func(b *testing.B) {
		side.use(b, 16)
		on(b, side, 0)
		side.use(b, 0)
	})
	b.Run(name+"push=on/other-manager", func(b *testing.B) {
		on(b, benchPushNode(b, 600000, benchEvAgents, rcv), 0)
	})
	b.Run(name+"alternating", func(b *testing.B) { benchServeAlternating(b, h, rq, side, 0) })
	b.Run(name+"alternating/rate=10000", func(b *testing.B) { benchServeAlternating(b, h, rq, side, 10000) })
	b.Run(name+"alternating/workers=16", func(b *testing.B) {
		side.use(b, 16)
		benchServeAlternating(b, h, rq, side, 0)
		side.use(b, 0)
	})

	// The same with the collector set as cmd/ccgw sets it by default
	// (--gc-percent 200); its ratio is to its own push=off.
	gc := fmt.Sprintf("gogc=%d/", defaultGCPercent)
	withGC := func(f func()) {
		old := debug.SetGCPercent(defaultGCPercent)
		defer debug.SetGCPercent(old)
		f()
	}
	offGC := make(map[int]float64)
	b.Run(name+gc+"push=off", func(b *testing.B) {
		withGC(func() { offGC[runtime.GOMAXPROCS(0)] = benchServeWatched(b, h, rq, nil) })
	})
	b.Run(name+gc+"push=on", func(b *testing.B) {
		withGC(func() {
			stop := side.load(b, 0)
			ns := benchServeWatched(b, h, rq, side.pusher.Load())
			stop()
			if o := offGC[runtime.GOMAXPROCS(0)]; o > 0 {
				b.ReportMetric(ns/o, "ratio")
			}
		})
	})
	b.Run(name+gc+"alternating", func(b *testing.B) {
		withGC(func() { benchServeAlternating(b, h, rq, side, 0) })
	})
}

// defaultGCPercent is cmd/ccgw's default --gc-percent.
const defaultGCPercent = 200
