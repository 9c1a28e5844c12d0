package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRSSPerSession measures the resident memory an idle session costs the
// real gateway (issue 13): it starts ccgw with its defaults (bbolt, the
// simulated call centre wired, the workbench on) and a 30-minute heartbeat
// timeout, signs N agents in over loopback HTTP on 64 connections and sends
// nothing else, then lets the process idle until the runtime has run two more
// collections of its own (with no traffic, its 2-minute forced ones) and 30 s
// for its scavenger. It reports the growth of VmRSS (/proc/PID/status) over the
// empty gateway's, per session, and its parts RssAnon (the Go heap and
// runtime) and RssFile (the pages of the bbolt file its mmap touched); the
// live heap after the last collection and its goal (GODEBUG=gctrace=1), per
// session, include the empty gateway's ~2 MB. Each session holds its two
// sign-in events: nobody polls. sessions=1000000 is 999,899 agents (work
// numbers 101–999999, all there are). Extra gateway flags, e.g.
// "--gc-percent 100", come from CCGW_RSS_FLAGS. Run it once per size:
//
//	go test -run '^$' -bench 'RSSPerSession/sessions=200000$' -benchtime 1x -timeout 60m -v ./e2e/
func BenchmarkRSSPerSession(b *testing.B) {
	for _, n := range []int{200_000, 1_000_000} {
		b.Run("sessions="+strconv.Itoa(n), func(b *testing.B) {
			n = min(n, 999_899)
			for b.Loop() {
				measureRSS(b, n)
			}
		})
	}
}

func measureRSS(b *testing.B, n int) {
	args := []string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--plaintext",
		"--heartbeat-timeout", "30m", "--data", b.TempDir()}
	args = append(args, strings.Fields(os.Getenv("CCGW_RSS_FLAGS"))...)
	g := startTraced(b, args)
	time.Sleep(5 * time.Second) // let start-up settle
	empty := readStatus(b, g.pid)
	load0 := loadAvg()

	start := time.Now()
	signInMany(b, g, n)
	signedIn := time.Now()
	b.Logf("%d agents signed in in %v (%.0f/s)", n, signedIn.Sub(start).Round(time.Second), float64(n)/signedIn.Sub(start).Seconds())

	// Idle: two collections that start after the last sign-in, then the scavenger.
	deadline := time.Now().Add(10 * time.Minute)
	for g.cyclesSince(signedIn) < 2 {
		if time.Now().After(deadline) {
			b.Fatalf("no two collections within 10 minutes of the last sign-in")
		}
		time.Sleep(time.Second)
	}
	time.Sleep(30 * time.Second)
	after := readStatus(b, g.pid)
	gc := g.last()
	per := func(kb0, kb1 int64) float64 { return float64(kb1-kb0) * 1024 / float64(n) }
	b.ReportMetric(per(empty.rss, after.rss), "rss-B/session")
	b.ReportMetric(per(empty.anon, after.anon), "anon-B/session")
	b.ReportMetric(per(empty.file, after.file), "file-B/session")
	b.ReportMetric(gc.liveMB*(1<<20)/float64(n), "live-B/session")
	b.ReportMetric(gc.goalMB*(1<<20)/float64(n), "goal-B/session")
	mem := g.memstats(b)
	b.ReportMetric(float64(mem["go_memstats_heap_inuse_bytes"])/float64(n), "inuse-B/session")
	b.Logf("go_memstats after: %v", mem)
	b.Logf("empty: VmRSS %d kB (anon %d, file %d); with %d sessions, idle %v: VmRSS %d kB (anon %d, file %d), VmHWM %d kB; last gc #%d: live %.0f MB, goal %.0f MB; load %s → %s",
		empty.rss, empty.anon, empty.file, n, time.Since(signedIn).Round(time.Second), after.rss, after.anon, after.file, after.hwm,
		gc.n, gc.liveMB, gc.goalMB, load0, loadAvg())
}

// tracedProc is a gateway run with GODEBUG=gctrace=1, its collections read
// from its stderr.
type tracedProc struct {
	pid       int
	addr      string
	adminAddr string
	mu        sync.Mutex
	gcs       []gcLine
}

type gcLine struct {
	n              int
	at             time.Time // when the line was read: the collection's end
	liveMB, goalMB float64
}

// gctrace's "gc 12 @3.4s 1%: ... 10->11->5 MB, 12 MB goal, ...".
var gcTraceRE = regexp.MustCompile(`^gc (\d+) @.* (\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

func (p *tracedProc) cyclesSince(t time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := 0
	for _, g := range p.gcs {
		if g.at.After(t) {
			k++
		}
	}
	return k
}

func (p *tracedProc) last() gcLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.gcs) == 0 {
		return gcLine{}
	}
	return p.gcs[len(p.gcs)-1]
}

func startTraced(b *testing.B, args []string) *tracedProc {
	b.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1,"+os.Getenv("GODEBUG"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start ccgw: %v", err)
	}
	p := &tracedProc{pid: cmd.Process.Pid}
	listening := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if m := gcTraceRE.FindStringSubmatch(line); m != nil {
				k, _ := strconv.Atoi(m[1])
				live, _ := strconv.ParseFloat(m[4], 64)
				goal, _ := strconv.ParseFloat(m[5], 64)
				p.mu.Lock()
				p.gcs = append(p.gcs, gcLine{n: k, at: time.Now(), liveMB: live, goalMB: goal})
				p.mu.Unlock()
			} else if strings.Contains(line, `msg="admin listening"`) {
				p.mu.Lock()
				p.adminAddr = parseLogLine(line).attr["addr"]
				p.mu.Unlock()
			} else if strings.Contains(line, "msg=listening") {
				select {
				case listening <- line:
				default:
				}
			}
		}
	}()
	b.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		cmd.Wait()
	})
	select {
	case line := <-listening:
		p.addr = parseLogLine(line).attr["addr"]
	case <-done:
		b.Fatalf("ccgw %v exited before listening", args)
	case <-time.After(30 * time.Second):
		b.Fatalf("ccgw %v did not log its listening line within 30s", args)
	}
	return p
}

// memstats returns the go_memstats_* samples of the gateway's /metrics.
func (p *tracedProc) memstats(b *testing.B) map[string]int64 {
	p.mu.Lock()
	addr := p.adminAddr
	p.mu.Unlock()
	out := map[string]int64{}
	if addr == "" {
		return out
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Logf("metrics: %v", err)
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && strings.HasPrefix(f[0], "go_memstats_") && strings.HasSuffix(f[0], "_bytes") {
			v, _ := strconv.ParseFloat(f[1], 64)
			out[f[0]] = int64(v)
		}
	}
	return out
}

// signInMany signs agents 101… in, n of them, on 64 connections.
func signInMany(b *testing.B, p *tracedProc, n int) {
	b.Helper()
	const conns = 64
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: time.Minute}
	var next, failed atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				url := "http://" + p.addr + "/agentgateway/resource/onlineagent/" + strconv.Itoa(101+int(i))
				r, err := send(context.Background(), c, http.MethodPut, url, "", loginBody)
				if err != nil || r.env.Retcode != "0" {
					if failed.Add(1) == 1 {
						first.Store(fmt.Sprintf("agent %d: %v %s", 101+i, err, r.body))
					}
				}
			}
		})
	}
	wg.Wait()
	if k := failed.Load(); k > 0 {
		b.Fatalf("%d sign-ins failed; first: %v", k, first.Load())
	}
}

// procStatus is the memory lines of /proc/PID/status, in kB.
type procStatus struct{ rss, anon, file, hwm int64 }

func readStatus(b *testing.B, pid int) procStatus {
	b.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatalf("read status: %v", err)
	}
	var s procStatus
	for _, line := range bytes.Split(raw, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			s.rss = v
		case "RssAnon:":
			s.anon = v
		case "RssFile:":
			s.file = v
		case "VmHWM:":
			s.hwm = v
		}
	}
	return s
}

func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
