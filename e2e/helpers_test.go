package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/proctest"
	"github.com/ccgw/ccgw/internal/wait"
)

// binary is the ccgw command TestMain built for this run.
var binary string

// TestMain builds ./cmd/ccgw once (with -race when the tests run with it, so that
// the gateway's own races fail the tests too) and runs the tests against it.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ccgw-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "ccgw")
	if err := proctest.Build(binary); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build ccgw:", err)
		return 1
	}
	return m.Run()
}

// holdsFor calls f every interval for d and fails tb as soon as it returns an
// error: a property that must stay true while time passes.
func holdsFor(tb testing.TB, d, interval time.Duration, f func() error) {
	tb.Helper()
	end := time.Now().Add(d)
	for {
		if err := f(); err != nil {
			tb.Fatal(err)
		}
		if time.Now().After(end) {
			return
		}
		time.Sleep(interval)
	}
}

// logLine is one line of the gateway's slog text output, split into its keys.
type logLine struct {
	raw  string
	attr map[string]string
}

func (l logLine) time() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, l.attr["time"])
	return t
}

// parseLogLine splits a slog text line (key=value, values quoted when needed).
func parseLogLine(s string) logLine {
	l := logLine{raw: s, attr: map[string]string{}}
	for i := 0; i < len(s); {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			break
		}
		key := s[i : i+eq]
		i += eq + 1
		var val string
		if i < len(s) && s[i] == '"' {
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				j = len(s) - 1
			}
			v, err := strconv.Unquote(s[i : j+1])
			if err != nil {
				v = s[i+1 : j]
			}
			val, i = v, j+1
		} else {
			j := strings.IndexByte(s[i:], ' ')
			if j < 0 {
				j = len(s) - i
			}
			val, i = s[i:i+j], i+j
		}
		l.attr[key] = val
	}
	return l
}

// lineLog collects a process's stderr line by line; it is safe for concurrent use.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []logLine
}

func (w *lineLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.lines = append(w.lines, parseLogLine(string(w.partial[:i])))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

// find returns the lines whose attributes include every key=value of kv.
func (w *lineLog) find(kv ...string) []logLine {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []logLine
next:
	for _, l := range w.lines {
		for i := 0; i+1 < len(kv); i += 2 {
			if l.attr[kv[i]] != kv[i+1] {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

func (w *lineLog) all() []logLine {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]logLine(nil), w.lines...)
}

// waitLine waits until a line with every key=value of kv is logged and returns the first.
func (w *lineLog) waitLine(tb testing.TB, timeout time.Duration, kv ...string) logLine {
	tb.Helper()
	var l logLine
	wait.For(tb, timeout, 20*time.Millisecond, func() error {
		ls := w.find(kv...)
		if len(ls) == 0 {
			return fmt.Errorf("no log line with %q", kv)
		}
		l = ls[0]
		return nil
	})
	return l
}

// proc is one running ccgw process.
type proc struct {
	tb      testing.TB
	data    string
	cmd     *exec.Cmd
	log     *lineLog
	exited  chan struct{} // closed when the process has exited and its stderr is read
	waitErr error

	listening logLine
	addr      string
	scheme    string
	certSHA   string
	restored  int
	client    *http.Client

	// The admin listener (admin API, /metrics), from its msg="admin listening"
	// line; adminAddr is "" when it is off.
	adminAddr   string
	adminScheme string
}

// startGateway runs ccgw over plain HTTP on a free loopback port, with its admin
// listener on another, a 2s heartbeat timeout and data in dataDir, plus extra
// flags (which win over the defaults here), and waits for its listening line.
// The process is killed when the test ends.
func startGateway(tb testing.TB, dataDir string, extra ...string) *proc {
	tb.Helper()
	return start(tb, dataDir, append([]string{"--plaintext"}, extra...))
}

// startHTTPS is startGateway without --plaintext.
func startHTTPS(tb testing.TB, dataDir string, extra ...string) *proc {
	tb.Helper()
	return start(tb, dataDir, extra)
}

func start(tb testing.TB, dataDir string, extra []string) *proc {
	tb.Helper()
	args := []string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--heartbeat-timeout", "2s", "--poll-wait", "500ms", "--data", dataDir}
	return startArgs(tb, dataDir, append(args, extra...))
}

// startArgs runs ccgw with exactly args (which must make it listen on a free
// loopback port and log that) and waits for its listening line. The admin
// listener, if any, logs its line before that one.
func startArgs(tb testing.TB, dataDir string, args []string) *proc {
	tb.Helper()
	p := &proc{tb: tb, data: dataDir, log: &lineLog{}, exited: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	// A -race build sleeps a second at exit by default; a race still fails (exit 66
	// and the report, checked in Cleanup).
	p.cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	p.cmd.Stderr = p.log
	p.cmd.Stdout = p.log
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start ccgw: %v", err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	tb.Cleanup(func() {
		p.kill()
		all := p.log.all()
		for i, l := range all {
			if strings.Contains(l.raw, "WARNING: DATA RACE") {
				tb.Errorf("ccgw (pid %d) reported a data race", p.cmd.Process.Pid)
				for _, x := range all[i:min(i+80, len(all))] {
					tb.Log("RACE| " + x.raw)
				}
				break
			}
		}
		if tb.Failed() {
			p.dump()
		}
	})

	deadline := time.Now().Add(15 * time.Second)
	for {
		if ls := p.log.find("msg", "listening"); len(ls) > 0 {
			p.listening = ls[0]
			break
		}
		select {
		case <-p.exited:
			p.dump()
			tb.Fatalf("ccgw exited before listening: %v", p.waitErr)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatal("ccgw did not log its listening line within 15s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	a := p.listening.attr
	p.addr, p.scheme, p.certSHA = a["addr"], a["scheme"], a["cert_sha256"]
	n, err := strconv.Atoi(a["restored"])
	if err != nil {
		tb.Fatalf("listening line without restored=N: %s", p.listening.raw)
	}
	p.restored = n
	if ls := p.log.find("msg", "admin listening"); len(ls) > 0 {
		p.adminAddr, p.adminScheme = ls[0].attr["addr"], ls[0].attr["scheme"]
	}
	p.client = p.newClient(nil)
	tb.Cleanup(p.client.CloseIdleConnections)
	return p
}

// newClient returns a client for p, with tr (if non-nil) as its transport; over
// HTTPS it pins the certificate p logged.
func (p *proc) newClient(tr *http.Transport) *http.Client {
	if tr == nil {
		tr = &http.Transport{}
	}
	if p.scheme == "https" {
		tr.TLSClientConfig = pinned(p.certSHA)
	}
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// pinned returns a TLS client configuration that skips chain verification (the
// certificate is self-signed) and instead requires the server's leaf certificate
// to have the SHA-256 fingerprint sha (AB:CD:...).
func pinned(sha string) *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("no server certificate")
			}
			if got := fingerprint(cs.PeerCertificates[0].Raw); got != sha {
				return fmt.Errorf("server certificate SHA-256 %s, want %s", got, sha)
			}
			return nil
		},
	}
}

// fingerprint formats the SHA-256 of a DER certificate as AB:CD:...
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

func (p *proc) dump() {
	p.tb.Helper()
	var b strings.Builder
	lines := p.log.all()
	if len(lines) > 200 {
		fmt.Fprintf(&b, "[%d lines omitted]\n", len(lines)-200)
		lines = lines[len(lines)-200:]
	}
	for _, l := range lines {
		b.WriteString(l.raw)
		b.WriteByte('\n')
	}
	p.tb.Logf("ccgw pid %d (%s) log:\n%s", p.cmd.Process.Pid, p.addr, b.String())
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.exited
}

// terminate sends SIGTERM and returns the exit code, failing if the process does
// not exit within timeout.
func (p *proc) terminate(timeout time.Duration) int {
	p.tb.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.tb.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.tb.Fatalf("ccgw still running %v after SIGTERM", timeout)
	}
	p.tb.Logf("ccgw exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	return p.cmd.ProcessState.ExitCode()
}

// url returns the full URL of path, which is relative to the vendor prefix unless
// it starts with "/".
func (p *proc) url(path string) string {
	if !strings.HasPrefix(path, "/") {
		path = "/agentgateway/resource/" + path
	}
	return p.scheme + "://" + p.addr + path
}

// adminURL returns the full URL of path (starting with "/") on p's admin
// listener; it fails the test if p has none.
func (p *proc) adminURL(path string) string {
	p.tb.Helper()
	if p.adminAddr == "" {
		p.tb.Fatalf("ccgw pid %d logged no admin listener", p.cmd.Process.Pid)
	}
	return p.adminScheme + "://" + p.adminAddr + path
}

// envelope is the gateway's response body.
type envelope struct {
	Message string          `json:"message"`
	Retcode string          `json:"retcode"`
	Result  json.RawMessage `json:"result"`
	Event   *event          `json:"event"`
}

type event struct {
	Type    string          `json:"eventType"`
	GenTime int64           `json:"eventGenTime"`
	WorkNo  string          `json:"workNo"`
	Content json.RawMessage `json:"content"`
}

// response is a complete HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
	env    envelope
	err    error // decoding env
}

// call sends a request with the given Guid header (none if "") and body (none if
// "") and reads the whole answer; it fails tb on a transport error.
func call(tb testing.TB, c *http.Client, method, url, guid, body string) response {
	tb.Helper()
	r, err := send(context.Background(), c, method, url, guid, body)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// send is call without a testing.TB, for goroutines.
func send(ctx context.Context, c *http.Client, method, url, guid, body string) (response, error) {
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rb)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	if guid != "" {
		req.Header.Set("Guid", guid)
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading body: %w", method, url, err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: b}
	r.err = json.Unmarshal(b, &r.env)
	return r, nil
}

const loginBody = `{"password":"p","phonenum":"70001"}`

// signIn signs agent id in and returns its GUID and loginTime.
func (p *proc) signIn(tb testing.TB, id string, body string) (guid, loginTime string) {
	tb.Helper()
	if body == "" {
		body = loginBody
	}
	r := call(tb, p.client, http.MethodPut, p.url("onlineagent/"+id), "", body)
	if r.status != http.StatusOK || r.env.Retcode != "0" {
		tb.Fatalf("sign in %s: HTTP %d %s", id, r.status, r.body)
	}
	sg := r.header.Get("Set-GUID")
	guid, ok := strings.CutPrefix(sg, "JSESSIONID=")
	if !ok || guid == "" {
		tb.Fatalf("sign in %s: Set-GUID %q", id, sg)
	}
	var res struct {
		LoginTime string `json:"loginTime"`
		WorkNo    string `json:"workno"`
	}
	if err := json.Unmarshal(r.env.Result, &res); err != nil || res.WorkNo != id {
		tb.Fatalf("sign in %s: result %s (%v)", id, r.env.Result, err)
	}
	return guid, res.LoginTime
}

func (p *proc) handshake(tb testing.TB, id, guid string) string {
	tb.Helper()
	return call(tb, p.client, http.MethodPost, p.url("onlineagent/"+id+"/handshake"), guid, "").env.Retcode
}

func (p *proc) poll(tb testing.TB, id, guid string) envelope {
	tb.Helper()
	r := call(tb, p.client, http.MethodGet, p.url("agentevent/"+id), guid, "")
	if r.err != nil {
		tb.Fatalf("poll %s: HTTP %d, body %q: %v", id, r.status, r.body, r.err)
	}
	return r.env
}

// status returns getAgentStatus's retcode and agentState.
func (p *proc) status(tb testing.TB, id, guid string) (string, int) {
	tb.Helper()
	r := call(tb, p.client, http.MethodGet, p.url("onlineagent/"+id+"/agentstatus"), guid, "")
	var res struct {
		AgentState int `json:"agentState"`
	}
	if r.env.Retcode == "0" {
		if err := json.Unmarshal(r.env.Result, &res); err != nil {
			tb.Fatalf("agentstatus %s: %s: %v", id, r.body, err)
		}
	}
	return r.env.Retcode, res.AgentState
}

// drain polls agent id until it has taken the events it expects, in order.
func (p *proc) drain(tb testing.TB, id, guid string, want ...string) {
	tb.Helper()
	for _, w := range want {
		env := p.poll(tb, id, guid)
		if env.Retcode != "0" || env.Event == nil || env.Event.Type != w {
			tb.Fatalf("poll %s: want %s, got retcode %s event %+v", id, w, env.Retcode, env.Event)
		}
	}
}

// heartbeater calls handShake for one agent every interval on whatever gateway
// target returns (nil: none running), until stopped. Network errors are ignored
// (the gateway may be restarting); any retcode but "0" is recorded.
type heartbeater struct {
	stop   context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	bad    []string
	beats  int
	errors int
}

func startHeartbeat(tb testing.TB, id, guid string, every time.Duration, target func() *proc) *heartbeater {
	ctx, cancel := context.WithCancel(context.Background())
	h := &heartbeater{stop: cancel, done: make(chan struct{})}
	clients := map[*proc]*http.Client{}
	go func() {
		defer close(h.done)
		t := time.NewTicker(every) // paces the heartbeat; not a synchronization
		defer t.Stop()
		for {
			if p := target(); p != nil {
				c := clients[p]
				if c == nil {
					c = p.newClient(nil)
					clients[p] = c
				}
				r, err := send(ctx, c, http.MethodPost, p.url("onlineagent/"+id+"/handshake"), guid, "")
				h.mu.Lock()
				switch {
				case ctx.Err() != nil:
				case err != nil:
					h.errors++
				case r.env.Retcode != "0":
					h.bad = append(h.bad, fmt.Sprintf("HTTP %d %s", r.status, r.body))
				default:
					h.beats++
				}
				h.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				for _, c := range clients {
					c.CloseIdleConnections()
				}
				return
			case <-t.C:
			}
		}
	}()
	tb.Cleanup(h.halt)
	return h
}

// halt stops the heartbeat and waits for it.
func (h *heartbeater) halt() {
	h.stop()
	<-h.done
}

// check fails tb if any heartbeat got a retcode other than "0".
func (h *heartbeater) check(tb testing.TB) {
	tb.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bad) > 0 {
		tb.Errorf("%d heartbeats failed, first: %s", len(h.bad), h.bad[0])
	}
}

func (h *heartbeater) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.beats
}

// dialCounter counts the TCP connections a transport opens.
type dialCounter struct {
	mu sync.Mutex
	n  int
}

func (d *dialCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.n++
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func (d *dialCounter) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}
