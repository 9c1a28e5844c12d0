package client_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw/client"
	"github.com/ccgw/ccgw/internal/proctest"
)

// binary is the ccgw command TestMain built for this run.
var binary string

// gatewayURL is the base URL of the gateway that TestMain starts for the
// examples and for the tests that need nothing special: plain HTTP on a free
// loopback port, dynamic GUIDs (rotating every 60 s), a 200 ms poll wait, and
// pushes signed with pushSecret.
var gatewayURL string

// pushSecret is the shared gateway's push secret.
var pushSecret = []byte("example-push-secret")

const secretEnv = "CCGW_CLIENT_TEST_PUSH_SECRET"

// TestMain builds ./cmd/ccgw once (with -race when the tests run with it) and
// starts the shared gateway.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ccgw-client-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "client tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "ccgw")
	if err := proctest.Build(binary); err != nil {
		fmt.Fprintln(os.Stderr, "client tests: build ccgw:", err)
		return 1
	}
	g, err := start(filepath.Join(dir, "shared"), sharedFlags...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client tests: shared gateway:", err)
		return 1
	}
	defer g.stop()
	gatewayURL = g.url
	code := m.Run()
	if g.raced() {
		fmt.Fprintln(os.Stderr, "client tests: the shared gateway reported a data race:\n"+g.log.String())
		return 1
	}
	return code
}

var sharedFlags = []string{"--poll-wait", "200ms", "--push-secret-env", secretEnv, "--heartbeat-timeout", "1m"}

// gateway is one running ccgw process.
type gateway struct {
	cmd    *exec.Cmd
	log    *proctest.Log
	exited chan struct{}
	url    string // the vendor base URL, http://127.0.0.1:port/agentgateway/resource
	root   string // http://127.0.0.1:port
	admin  string // the admin listener, http://127.0.0.1:port
}

// start runs ccgw in plain HTTP on a free loopback port with data in dataDir and
// flags (which win over the defaults here), and waits up to 15 s for its
// listening line.
func start(dataDir string, flags ...string) (*gateway, error) {
	args := append([]string{"--plaintext", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--data", dataDir}, flags...)
	g := &gateway{cmd: exec.Command(binary, args...), log: &proctest.Log{}, exited: make(chan struct{})}
	g.cmd.Env = append(os.Environ(), secretEnv+"="+string(pushSecret), "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
	dieWithParent(g.cmd)
	if err := g.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		g.cmd.Wait()
		close(g.exited)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if addr := listeningAddr(g.log.String(), " msg=listening "); addr != "" {
			g.root = "http://" + addr
			g.url = g.root + "/agentgateway/resource"
			g.admin = "http://" + listeningAddr(g.log.String(), ` msg="admin listening" `)
			return g, nil
		}
		select {
		case <-g.exited:
			return nil, fmt.Errorf("ccgw exited before listening:\n%s", g.log.String())
		default:
		}
		if time.Now().After(deadline) {
			g.stop()
			return nil, fmt.Errorf("ccgw did not log its listening line within 15s:\n%s", g.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// listeningAddr returns the addr of the line with msg (" msg=listening ", the
// vendor listener, logged after the admin listener's) in log, if any.
func listeningAddr(log, msg string) string {
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, msg) {
			continue
		}
		for _, f := range strings.Fields(line) {
			if a, ok := strings.CutPrefix(f, "addr="); ok {
				return a
			}
		}
	}
	return ""
}

// stop kills the process and waits for it.
func (g *gateway) stop() {
	select {
	case <-g.exited:
		return
	default:
	}
	g.cmd.Process.Kill()
	<-g.exited
}

func (g *gateway) raced() bool { return strings.Contains(g.log.String(), "WARNING: DATA RACE") }

// startGateway is start for one test: the process is stopped when the test
// ends, and its log shown if the test failed.
func startGateway(tb testing.TB, flags ...string) *gateway {
	tb.Helper()
	g, err := start(tb.TempDir(), flags...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		g.stop()
		if g.raced() {
			tb.Error("ccgw reported a data race")
		}
		if tb.Failed() {
			tb.Logf("ccgw log:\n%s", g.log.String())
		}
	})
	return g
}

// newClient returns a Client of base with opts, failing tb if New does.
func newClient(tb testing.TB, base string, opts ...client.Option) *client.Client {
	tb.Helper()
	c, err := client.New(base, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// counter is an http.RoundTripper that counts the requests it sends.
type counter struct {
	n atomic.Int64
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func (c *counter) count() int { return int(c.n.Load()) }

// fakeClock is a client.Clock whose time moves only by Advance. Each NewTimer's
// duration is sent on made, so a test knows when a loop waits and for how long.
type fakeClock struct {
	mu     sync.Mutex // guards now, timers
	now    time.Time
	timers []*fakeTimer
	made   chan time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), made: make(chan time.Duration, 1000)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) NewTimer(d time.Duration) client.Timer {
	f.mu.Lock()
	t := &fakeTimer{f: f, at: f.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- f.now
	} else {
		f.timers = append(f.timers, t)
	}
	f.mu.Unlock()
	f.made <- d
	return t
}

// Advance moves the time on by d and fires the timers due.
func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	kept := f.timers[:0]
	for _, t := range f.timers {
		if t.at.After(f.now) {
			kept = append(kept, t)
			continue
		}
		t.c <- f.now
	}
	f.timers = kept
}

// next waits up to 10 s for a loop to make a timer and returns its duration.
func (f *fakeClock) next(tb testing.TB) time.Duration {
	tb.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	select {
	case d := <-f.made:
		return d
	case <-deadline.C:
		tb.Fatal("no timer made within 10s")
		return 0
	}
}

// none fails tb if a timer was made and not taken by next.
func (f *fakeClock) none(tb testing.TB) {
	tb.Helper()
	select {
	case d := <-f.made:
		tb.Fatalf("a timer of %v was made", d)
	default:
	}
}

// run advances past every timer made until stop is closed, so that loops run
// without waiting; it returns the durations they waited.
func (f *fakeClock) run(stop <-chan struct{}) <-chan []time.Duration {
	out := make(chan []time.Duration, 1)
	go func() {
		var ds []time.Duration
		for {
			select {
			case d := <-f.made:
				ds = append(ds, d)
				f.Advance(d)
			case <-stop:
				out <- ds
				return
			}
		}
	}()
	return out
}

type fakeTimer struct {
	f  *fakeClock
	at time.Time
	c  chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	for i, x := range t.f.timers {
		if x == t {
			t.f.timers = append(t.f.timers[:i], t.f.timers[i+1:]...)
			return true
		}
	}
	return false
}

// TestImports checks the package's promise: the standard library and the root
// package only, nothing under internal/.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/ccgw/ccgw" && p != "github.com/ccgw/ccgw/client" {
			t.Errorf("client depends on %s", p)
		}
	}
}
