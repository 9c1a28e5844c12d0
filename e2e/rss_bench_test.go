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
// real gateway (issue 13). It starts ccgw with its defaults (bbolt, the
// simulated call centre wired, the workbench on) and a 30-minute heartbeat
// timeout, and signs N agents in over loopback HTTP on 64 connections. Then:
//
//   - quiet: no request at all until the runtime has run two collections of its
//     own after the last sign-in (with no traffic, its 2-minute forced ones) and
//     VmRSS has stopped falling (the scavenger returning pages) for a minute.
//     rss-, anon- and file-B/session are the growth of VmRSS, RssAnon (the Go
//     heap and runtime) and RssFile (the pages of the bbolt file its mmap
//     touched) of /proc/PID/status over the empty gateway's, per session;
//     live-B/session and goal-B/session are the live heap after the last
//     collection and the next goal (GODEBUG=gctrace=1), which include the
//     empty gateway's ~2 MB; inuse-B/session is go_memstats_heap_inuse_bytes.
//     Each session holds its two sign-in events: nobody polls.
//   - heartbeating: every agent then heartbeats (following GUID rotations), 5,000
//     heartbeats/s in all, until three more collections have run and two
//     minutes have passed; hb-rss-B/session is the mean VmRSS growth per
//     session over the samples (every 2 s) after the first of those
//     collections, hb-max-rss-B/session the highest. With traffic the heap
//     grows to the collector's goal between collections, so this follows the
//     GC setting; quiet, the scavenger returns what the live heap does not use.
//
// sessions=1000000 is 999,899 agents (work numbers 101–999999, all there
// are). Extra gateway flags, e.g. "--gc-percent 100", come from
// CCGW_RSS_FLAGS. Run it once per size:
//
//	go test -run '^$' -bench 'RSSPerSession/sessions=200000$' -benchtime 1x -timeout 90m -v ./e2e/
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
	per := func(kb0, kb1 int64) float64 { return float64(kb1-kb0) * 1024 / float64(n) }

	start := time.Now()
	guids := signInMany(b, g, n)
	signedIn := time.Now()
	b.Logf("%d agents signed in in %v (%.0f/s)", n, signedIn.Sub(start).Round(time.Second), float64(n)/signedIn.Sub(start).Seconds())

	// Quiet: two collections after the last sign-in, then the scavenger.
	g.waitCycles(b, signedIn, 2, 10*time.Minute)
	quiet := readStatus(b, g.pid)
	for end := time.Now().Add(5 * time.Minute); time.Now().Before(end); {
		time.Sleep(time.Minute)
		now := readStatus(b, g.pid)
		settled := now.rss >= quiet.rss-quiet.rss/200
		quiet = now
		if settled {
			break
		}
	}
	gc := g.last()
	b.ReportMetric(per(empty.rss, quiet.rss), "rss-B/session")
	b.ReportMetric(per(empty.anon, quiet.anon), "anon-B/session")
	b.ReportMetric(per(empty.file, quiet.file), "file-B/session")
	b.ReportMetric(gc.liveMB*(1<<20)/float64(n), "live-B/session")
	b.ReportMetric(gc.goalMB*(1<<20)/float64(n), "goal-B/session")
	mem := g.memstats(b)
	b.ReportMetric(float64(mem["go_memstats_heap_inuse_bytes"])/float64(n), "inuse-B/session")
	b.Logf("go_memstats quiet: %v", mem)
	b.Logf("empty: VmRSS %d kB (anon %d, file %d); with %d sessions, quiet %v: VmRSS %d kB (anon %d, file %d), VmHWM %d kB; last gc #%d: live %.0f MB, goal %.0f MB; load %s → %s",
		empty.rss, empty.anon, empty.file, n, time.Since(signedIn).Round(time.Second), quiet.rss, quiet.anon, quiet.file, quiet.hwm,
		gc.n, gc.liveMB, gc.goalMB, load0, loadAvg())

	// Heartbeating.
	hbStart := time.Now()
	ctx, stop := context.WithCancel(context.Background())
	beats, fails := heartbeatAll(ctx, g, guids, 5000)
	var samples []int64
	var sum, hi int64
	for time.Since(hbStart) < 2*time.Minute || g.cyclesSince(hbStart) < 4 {
		if time.Since(hbStart) > 15*time.Minute {
			break
		}
		time.Sleep(2 * time.Second)
		if g.cyclesSince(hbStart) >= 1 {
			r := readStatus(b, g.pid).rss
			samples = append(samples, r)
			sum += r
			hi = max(hi, r)
		}
	}
	stop()
	hbGC := g.last()
	if len(samples) == 0 || fails.Load() > 0 {
		b.Fatalf("heartbeating: %d samples, %d of %d heartbeats failed", len(samples), fails.Load(), beats.Load())
	}
	b.ReportMetric(per(empty.rss, sum/int64(len(samples))), "hb-rss-B/session")
	b.ReportMetric(per(empty.rss, hi), "hb-max-rss-B/session")
	b.ReportMetric(hbGC.liveMB*(1<<20)/float64(n), "hb-live-B/session")
	b.Logf("heartbeating %v: %d heartbeats (%.0f/s), %d collections; VmRSS mean %d kB, max %d kB; last gc #%d: live %.0f MB, goal %.0f MB; load %s",
		time.Since(hbStart).Round(time.Second), beats.Load(), float64(beats.Load())/time.Since(hbStart).Seconds(), g.cyclesSince(hbStart),
		sum/int64(len(samples)), hi, hbGC.n, hbGC.liveMB, hbGC.goalMB, loadAvg())
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

// waitCycles waits until k collections have ended after t, failing b after
// limit.
func (p *tracedProc) waitCycles(b *testing.B, t time.Time, k int, limit time.Duration) {
	b.Helper()
	deadline := time.Now().Add(limit)
	for p.cyclesSince(t) < k {
		if time.Now().After(deadline) {
			b.Fatalf("no %d collections within %v", k, limit)
		}
		time.Sleep(time.Second)
	}
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

// signInMany signs agents 101… in, n of them, on 64 connections, and returns
// their GUIDs.
func signInMany(b *testing.B, p *tracedProc, n int) []string {
	b.Helper()
	c := benchClient()
	guids := make([]string, n)
	var next, failed atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				url := "http://" + p.addr + "/agentgateway/resource/onlineagent/" + strconv.Itoa(101+int(i))
				r, err := send(context.Background(), c, http.MethodPut, url, "", loginBody)
				g, ok := strings.CutPrefix(r.header.Get("Set-GUID"), "JSESSIONID=")
				if err != nil || r.env.Retcode != "0" || !ok {
					if failed.Add(1) == 1 {
						first.Store(fmt.Sprintf("agent %d: %v %s", 101+i, err, r.body))
					}
					continue
				}
				guids[i] = g
			}
		})
	}
	wg.Wait()
	if k := failed.Load(); k > 0 {
		b.Fatalf("%d sign-ins failed; first: %v", k, first.Load())
	}
	return guids
}

func benchClient() *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// heartbeatAll sends handShakes for the agents of guids in turn, agent i being
// 101+i, rate a second in all, until ctx ends; a Set-GUID in an answer (a
// rotation) replaces the agent's GUID. It counts the heartbeats sent and those
// not answered 0.
func heartbeatAll(ctx context.Context, p *tracedProc, guids []string, rate int) (sent, failed *atomic.Int64) {
	sent, failed = new(atomic.Int64), new(atomic.Int64)
	c := benchClient()
	var next atomic.Int64
	const workers = 32
	for range workers {
		go func() {
			tick := time.NewTicker(time.Second * workers / time.Duration(rate))
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				i := int(next.Add(1)-1) % len(guids)
				url := "http://" + p.addr + "/agentgateway/resource/onlineagent/" + strconv.Itoa(101+i) + "/handshake"
				r, err := send(ctx, c, http.MethodPost, url, guids[i], "")
				if ctx.Err() != nil {
					return
				}
				sent.Add(1)
				if err != nil || r.env.Retcode != "0" {
					failed.Add(1)
					continue
				}
				if g, ok := strings.CutPrefix(r.header.Get("Set-GUID"), "JSESSIONID="); ok && g != "" {
					guids[i] = g
				}
			}
		}()
	}
	return sent, failed
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
