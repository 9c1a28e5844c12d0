package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/loadtest"
	"github.com/ccgw/ccgw/internal/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// Benchmark set-up: benchAgents signed-in agents per configuration, heartbeated
// in a closed loop by benchConns concurrent clients (one keep-alive connection
// each per node), round robin over the nodes.
const (
	benchAgents = 1000
	benchConns  = 64
)

// benchResult is one configuration's measurement.
type benchResult struct {
	gwCPU    time.Duration // CPU time of the ccgw nodes per heartbeat
	redisCPU time.Duration // CPU time of redis-server per heartbeat
	rate     float64       // heartbeats per second
	p50      time.Duration
	p99      time.Duration
	calls    float64 // commands redis-server ran per heartbeat, those scripts ran included
	scripts  float64 // script calls (EVALSHA, EVAL) per heartbeat: the commands nodes send
}

// BenchmarkClusterHeartbeat measures heartbeat throughput and latency against
// one ccgw node on bbolt, against 1, 2 and 3 ccgw nodes sharing one Redis, and
// against three bbolt nodes that share nothing (the cost of three processes
// without Redis),
// all started once, in one run, and logs the medians and their ratios to the
// bbolt node (with -v), and what each heartbeat cost Redis: the script calls
// the nodes sent and the commands redis-server ran (those inside scripts
// included). One op is one handShake answered 0. Run it with a fixed count, e.g.
//
//	go test -run '^$' -bench ClusterHeartbeat -benchtime 30000x -v ./e2e/
func BenchmarkClusterHeartbeat(b *testing.B) {
	srv := redistest.Start(b)
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	redisNodes := make([]*quietProc, 3)
	for i := range redisNodes {
		redisNodes[i] = startQuiet(b, "--store", srv.URL(), "--node-name", "AgentGateway"+strconv.Itoa(i+1))
	}
	boltNodes := make([]*quietProc, 3)
	for i := range boltNodes {
		boltNodes[i] = startQuiet(b, "--store", "bolt")
	}
	boltNode := boltNodes[0]
	redisPID := srv.PID()
	// pinned: each agent's heartbeats go to the node it signed in on (three
	// bbolt nodes share nothing); else request i goes to node i mod n.
	configs := []struct {
		name   string
		nodes  []*quietProc
		pinned bool
	}{
		{"store=bolt/nodes=1", []*quietProc{boltNode}, false},
		{"store=redis/nodes=1", redisNodes[:1], false},
		{"store=redis/nodes=2", redisNodes[:2], false},
		{"store=redis/nodes=3", redisNodes, false},
		{"store=bolt/nodes=3/unshared", boltNodes, true},
	}
	agents := make([][]benchAgent, len(configs))
	for k, cfg := range configs {
		// Each configuration signs in its own agents: the Redis nodes share them.
		agents[k] = signInBench(b, cfg.nodes, 10001+k*benchAgents)
	}
	// Rounds interleave the configurations, so that a change in the machine's
	// other load does not favour one of them.
	results := map[string][]benchResult{}
	for range benchRounds {
		for k, cfg := range configs {
			b.Run(cfg.name, func(b *testing.B) {
				cpu0, rcpu0 := nodesCPU(cfg.nodes), cpuTime(redisPID)
				calls0, scripts0 := redisCalls(b, rdb)
				r := heartbeatLoad(b, cfg.nodes, agents[k], cfg.pinned)
				r.gwCPU = (nodesCPU(cfg.nodes) - cpu0) / time.Duration(b.N)
				r.redisCPU = (cpuTime(redisPID) - rcpu0) / time.Duration(b.N)
				calls, scripts := redisCalls(b, rdb)
				r.calls = float64(calls-calls0-1) / float64(b.N) // the first INFO counts itself
				r.scripts = float64(scripts-scripts0) / float64(b.N)
				b.ReportMetric(float64(r.gwCPU)/float64(time.Microsecond), "gateway-cpu-µs/op")
				b.ReportMetric(float64(r.redisCPU)/float64(time.Microsecond), "redis-cpu-µs/op")
				if !strings.HasPrefix(cfg.name, "store=bolt") {
					b.ReportMetric(r.calls, "redis-cmds/op")
					b.ReportMetric(r.scripts, "redis-scripts/op")
				}
				if b.N >= 1000 { // not the framework's probing run
					results[cfg.name] = append(results[cfg.name], r)
				}
			})
		}
	}
	if len(results[configs[0].name]) == 0 {
		return
	}
	base := median(results[configs[0].name])
	var out strings.Builder
	fmt.Fprintf(&out, "medians of %d rounds:\n\n| configuration | heartbeats/s | p50 | p99 | throughput ÷ bolt | p99 ÷ bolt | ccgw CPU/heartbeat | redis CPU/heartbeat | Redis scripts/heartbeat | Redis commands/heartbeat |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", benchRounds)
	for _, cfg := range configs {
		r := median(results[cfg.name])
		redisCols := fmt.Sprintf("%.0f µs | %.4f | %.4f", us(r.redisCPU), r.scripts, r.calls)
		if strings.HasPrefix(cfg.name, "store=bolt") {
			redisCols = "— | — | —" // what Redis did meanwhile was the idle Redis nodes' ticks
		}
		fmt.Fprintf(&out, "| %s | %.0f | %.2f ms | %.2f ms | %.2f× | %.2f× | %.0f µs | %s |\n", cfg.name, r.rate, ms(r.p50), ms(r.p99),
			r.rate/base.rate, float64(r.p99)/float64(base.p99), us(r.gwCPU), redisCols)
	}
	b.Log(out.String())
}

// redisCalls returns the commands redis-server has run (INFO stats'
// total_commands_processed: those scripts ran included) and the script calls
// among them (EVALSHA and EVAL; INFO commandstats).
func redisCalls(b *testing.B, rdb *goredis.Client) (calls, scripts int64) {
	b.Helper()
	info, err := rdb.Info(context.Background(), "stats", "commandstats").Result()
	if err != nil {
		b.Fatalf("INFO: %v", err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			calls, _ = strconv.ParseInt(v, 10, 64)
		}
		for _, cmd := range []string{"cmdstat_evalsha:calls=", "cmdstat_eval:calls="} {
			if v, ok := strings.CutPrefix(line, cmd); ok {
				v, _, _ = strings.Cut(v, ",")
				n, _ := strconv.ParseInt(v, 10, 64)
				scripts += n
			}
		}
	}
	return calls, scripts
}

// benchRounds is how often each configuration is measured.
const benchRounds = 3

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// cpuTime returns the user+system CPU time process pid has used (Linux), or 0.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ is 100 on Linux
}

func nodesCPU(nodes []*quietProc) time.Duration {
	var d time.Duration
	for _, p := range nodes {
		d += cpuTime(p.pid)
	}
	return d
}

// median returns the median rate, p50 and p99 of rs, each on its own.
func median(rs []benchResult) benchResult {
	if len(rs) == 0 {
		return benchResult{}
	}
	pick := func(f func(benchResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	return benchResult{
		gwCPU:    time.Duration(pick(func(r benchResult) float64 { return float64(r.gwCPU) })),
		redisCPU: time.Duration(pick(func(r benchResult) float64 { return float64(r.redisCPU) })),
		rate:     pick(func(r benchResult) float64 { return r.rate }),
		p50:      time.Duration(pick(func(r benchResult) float64 { return float64(r.p50) })),
		p99:      time.Duration(pick(func(r benchResult) float64 { return float64(r.p99) })),
		calls:    pick(func(r benchResult) float64 { return r.calls }),
		scripts:  pick(func(r benchResult) float64 { return r.scripts }),
	}
}

// benchAgent is a signed-in agent's path and GUID, and the index of the node
// it signed in on.
type benchAgent struct {
	path, guid string
	node       int
}

// signInBench signs benchAgents agents in from work number first, spread over
// nodes.
func signInBench(b *testing.B, nodes []*quietProc, first int) []benchAgent {
	b.Helper()
	agents := make([]benchAgent, benchAgents)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range benchConns {
		wg.Go(func() {
			for i := w; i < benchAgents; i += benchConns {
				id := strconv.Itoa(first + i)
				p := nodes[i%len(nodes)]
				r, err := send(context.Background(), p.client, http.MethodPut, p.url("onlineagent/"+id), "", loginBody)
				g, ok := strings.CutPrefix(r.header.Get("Set-GUID"), "JSESSIONID=")
				if err != nil || r.env.Retcode != "0" || !ok {
					failed.Add(1)
					continue
				}
				agents[i] = benchAgent{path: "onlineagent/" + id + "/handshake", guid: g, node: i % len(nodes)}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d sign-ins failed", n)
	}
	return agents
}

// heartbeatLoad sends b.N heartbeats from benchConns clients, each request to
// the next node in turn (pinned: to the agent's node), and reports
// heartbeats/s and latency quantiles.
func heartbeatLoad(b *testing.B, nodes []*quietProc, agents []benchAgent, pinned bool) benchResult {
	var next atomic.Int64
	var bad atomic.Int64
	hists := make([]loadtest.Histogram, benchConns)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range benchConns {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				p := nodes[i%int64(len(nodes))]
				a := agents[i%int64(len(agents))]
				if pinned {
					p = nodes[a.node]
				}
				t0 := time.Now()
				r, err := send(context.Background(), p.client, http.MethodPost, p.url(a.path), a.guid, "")
				hists[w].Record(time.Since(t0))
				if err != nil || r.env.Retcode != "0" {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	if n := bad.Load(); n > 0 {
		b.Fatalf("%d of %d heartbeats failed", n, b.N)
	}
	var h loadtest.Histogram
	for i := range hists {
		h.Merge(&hists[i])
	}
	r := benchResult{rate: float64(b.N) / el.Seconds(), p50: h.Quantile(0.5), p99: h.Quantile(0.99)}
	b.ReportMetric(r.rate, "heartbeats/s")
	b.ReportMetric(float64(r.p99)/float64(time.Millisecond), "p99-ms")
	b.ReportMetric(float64(r.p50)/float64(time.Millisecond), "p50-ms")
	return r
}

// quietProc is a ccgw process whose log is discarded after its listening line
// (parsing every request line would load the benchmark's own process).
type quietProc struct {
	pid    int
	addr   string
	client *http.Client
}

func (p *quietProc) url(path string) string {
	if !strings.HasPrefix(path, "/") {
		path = "/agentgateway/resource/" + path
	}
	return "http://" + p.addr + path
}

// startQuiet runs ccgw over plain HTTP on a free loopback port with a 2m
// heartbeat timeout and its data in a temp dir, plus extra flags, and waits
// for its listening line.
func startQuiet(b *testing.B, extra ...string) *quietProc {
	b.Helper()
	args := append([]string{"--addr", "127.0.0.1:0", "--admin-addr", "off", "--plaintext", "--heartbeat-timeout", "2m", "--data", b.TempDir()}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	w := &listenWatcher{found: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		b.Fatalf("start ccgw: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	b.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	select {
	case line := <-w.found:
		addr := parseLogLine(line).attr["addr"]
		tr := &http.Transport{MaxIdleConnsPerHost: benchConns, MaxConnsPerHost: benchConns}
		b.Cleanup(tr.CloseIdleConnections)
		return &quietProc{pid: cmd.Process.Pid, addr: addr, client: &http.Client{Transport: tr, Timeout: time.Minute}}
	case <-exited:
		b.Fatalf("ccgw %v exited before listening:\n%s", args, w.head())
	case <-time.After(30 * time.Second):
		b.Fatalf("ccgw %v did not log its listening line within 30s:\n%s", args, w.head())
	}
	return nil
}

// listenWatcher keeps a process's output until the listening line, then
// discards it.
type listenWatcher struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	done  bool
	found chan string
}

func (w *listenWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	w.buf.Write(p)
	for _, line := range strings.Split(w.buf.String(), "\n") {
		if strings.Contains(line, "msg=listening") {
			w.done = true
			w.found <- line
			break
		}
	}
	return len(p), nil
}

func (w *listenWatcher) head() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, _ := io.ReadAll(io.LimitReader(bytes.NewReader(w.buf.Bytes()), 4096))
	return string(b)
}
