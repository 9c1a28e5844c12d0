package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/wait"
)

// Tests of the limits on what one client can hold (docs/security.md) against
// the real binary, over raw loopback TCP where the client must misbehave.

// rawConn dials p and returns the connection, closed when the test ends.
func (p *proc) rawConn(tb testing.TB) net.Conn {
	tb.Helper()
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// readAnswer reads one HTTP answer from c, waiting at most timeout.
func readAnswer(c net.Conn, br *bufio.Reader, timeout time.Duration) (*http.Response, []byte, error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// closedBy reports whether reading c ends as the server closing it (EOF or a
// reset), waiting at most timeout; a read timeout means it is still open.
func closedBy(c net.Conn, br *bufio.Reader, timeout time.Duration) error {
	c.SetReadDeadline(time.Now().Add(timeout))
	_, err := br.ReadByte()
	var ne net.Error
	switch {
	case err == nil:
		return errors.New("the server sent more")
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("still open after %v", timeout)
	}
	return nil // EOF or reset
}

// TestE2EBodyOverCapRefusedAtOnce announces a 100 MB sign-in body and sends
// none of it: the gateway answers 413 with retcode 100-001 at once, without
// waiting for the body, and closes the connection.
func TestE2EBodyOverCapRefusedAtOnce(t *testing.T) {
	t.Parallel()
	p := startGateway(t, t.TempDir())
	c := p.rawConn(t)
	fmt.Fprintf(c, "PUT /agentgateway/resource/onlineagent/1001 HTTP/1.1\r\nHost: ccgw\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")
	br := bufio.NewReader(c)
	resp, body, err := readAnswer(c, br, 10*time.Second)
	if err != nil {
		t.Fatalf("no answer while the body is withheld: %v", err)
	}
	var env envelope
	if resp.StatusCode != http.StatusRequestEntityTooLarge || json.Unmarshal(body, &env) != nil || env.Retcode != "100-001" {
		t.Fatalf("HTTP %d %s, want 413 100-001", resp.StatusCode, body)
	}
	if err := closedBy(c, br, 10*time.Second); err != nil {
		t.Fatalf("connection after the 413: %v", err)
	}
}

// TestE2ESlowClientsCut runs the gateway with --read-timeout 1s: headers that
// never end, and a body that never comes, each hold their connection only until
// then (within a 10 s deadline), where they used to hold it forever.
func TestE2ESlowClientsCut(t *testing.T) {
	t.Parallel()
	p := startGateway(t, t.TempDir(), "--read-timeout", "1s")
	for name, req := range map[string]string{
		"headers never end": "PUT /agentgateway/resource/onlineagent/1001 HTTP/1.1\r\nHost: ccgw\r\nX-Slow: 1\r\n",
		"body never comes": "PUT /agentgateway/resource/onlineagent/1001 HTTP/1.1\r\nHost: ccgw\r\n" +
			"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"pass",
	} {
		t.Run(name, func(t *testing.T) {
			c := p.rawConn(t)
			start := time.Now()
			io.WriteString(c, req)
			br := bufio.NewReader(c)
			// Either an answer (the sign-in refused: its body could not be read)
			// and then the close, or the close at once.
			if resp, body, err := readAnswer(c, br, 10*time.Second); err == nil {
				var env envelope
				if json.Unmarshal(body, &env) != nil || env.Retcode == "0" {
					t.Fatalf("HTTP %d %s: a request that never ended succeeded", resp.StatusCode, body)
				}
			}
			if err := closedBy(c, br, 10*time.Second); err != nil {
				t.Fatalf("connection: %v", err)
			}
			t.Logf("cut after %v", time.Since(start).Round(10*time.Millisecond))
		})
	}
}

// TestE2EConnsPerIP runs the gateway with --max-conns-per-ip 4: four keep-alive
// connections from 127.0.0.1 are served, a fifth is closed before it is
// answered, and once one of the four closes a new one is served again.
func TestE2EConnsPerIP(t *testing.T) {
	t.Parallel()
	p := startGateway(t, t.TempDir(), "--max-conns-per-ip", "4")
	health := "GET /healthz HTTP/1.1\r\nHost: ccgw\r\n\r\n"
	serve := func(c net.Conn, br *bufio.Reader) error {
		io.WriteString(c, health)
		resp, _, err := readAnswer(c, br, 10*time.Second)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	}
	var held []net.Conn
	for i := range 4 {
		c := p.rawConn(t)
		if err := serve(c, bufio.NewReader(c)); err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		held = append(held, c)
	}
	over := p.rawConn(t)
	io.WriteString(over, health)
	if err := closedBy(over, bufio.NewReader(over), 10*time.Second); err != nil {
		t.Fatalf("fifth connection: %v", err)
	}
	held[0].Close()
	// The gateway sees the close when it next reads that connection: poll.
	wait.For(t, 10*time.Second, 20*time.Millisecond, func() error {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			return err
		}
		defer c.Close()
		return serve(c, bufio.NewReader(c))
	})
	for _, c := range held[1:] {
		c.Close()
	}
	wait.For(t, 10*time.Second, 20*time.Millisecond, func() error { // a place for /metrics
		c := p.newClient(nil)
		defer c.CloseIdleConnections()
		r, err := send(context.Background(), c, http.MethodGet, p.adminURL("/metrics"), "", "")
		if err != nil {
			return err
		}
		if !strings.Contains(string(r.body), `ccgw_refused_total{reason="conns_per_ip"} `) ||
			strings.Contains(string(r.body), `ccgw_refused_total{reason="conns_per_ip"} 0`) {
			return errors.New("no conns_per_ip refusal counted")
		}
		return nil
	})
}

// metric returns the value of the exposition line that starts with name.
func metric(tb testing.TB, p *proc, name string) float64 {
	tb.Helper()
	r := call(tb, p.client, http.MethodGet, p.adminURL("/metrics"), "", "")
	for _, line := range strings.Split(string(r.body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				tb.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	tb.Fatalf("/metrics has no %s", name)
	return 0
}

// TestE2EPollsPerIP runs the gateway with --max-polls-per-ip 2: with two polls
// held from 127.0.0.1 a third is answered at once, HTTP 429 with retcode
// 000-007 and Retry-After, while heartbeats go on.
func TestE2EPollsPerIP(t *testing.T) { onEveryStore(t, testE2EPollsPerIP) }

func testE2EPollsPerIP(t *testing.T, store string) {
	p := startGatewayOn(t, store, "--max-polls-per-ip", "2", "--poll-wait", "30s", "--heartbeat-timeout", "1m",
		"--auth-mode", "static")
	g := map[string]string{}
	for _, id := range []string{"1001", "1002", "1003"} {
		g[id], _ = p.signIn(t, id, "")
		p.drain(t, id, g[id], "AgentOther_InService", "AgentState_Ready")
	}
	before := metric(t, p, "ccgw_polls_total")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for _, id := range []string{"1001", "1002"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := p.newClient(nil)
			defer c.CloseIdleConnections()
			send(ctx, c, http.MethodGet, p.url("agentevent/"+id), g[id], "")
		}()
	}
	wait.For(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := metric(t, p, "ccgw_polls_total") - before; n < 2 {
			return fmt.Errorf("%v polls held, want 2", n)
		}
		return nil
	})
	r := call(t, p.client, http.MethodGet, p.url("agentevent/1003"), g["1003"], "")
	if r.status != http.StatusTooManyRequests || r.env.Retcode != "000-007" || r.header.Get("Retry-After") != "1" {
		t.Fatalf("third poll: HTTP %d %s, Retry-After %q; want 429 000-007, 1", r.status, r.body, r.header.Get("Retry-After"))
	}
	if code := p.handshake(t, "1003", g["1003"]); code != "0" {
		t.Fatalf("heartbeat beside the held polls: %s", code)
	}
	if got := metric(t, p, `ccgw_refused_total{reason="polls_per_ip"}`); got != 1 {
		t.Fatalf("polls_per_ip refusals %v, want 1", got)
	}
}

// TestE2EPollOutlivesWriteTimeout runs the gateway with read and write timeouts
// of 1 s and a poll wait of 2 s: the held poll still answers the empty envelope.
func TestE2EPollOutlivesWriteTimeout(t *testing.T) { onEveryStore(t, testE2EPollOutlivesWriteTimeout) }

func testE2EPollOutlivesWriteTimeout(t *testing.T, store string) {
	p := startGatewayOn(t, store, "--read-timeout", "1s", "--write-timeout", "1s", "--poll-wait", "2s",
		"--auth-mode", "static")
	g, _ := p.signIn(t, "1001", "")
	p.drain(t, "1001", g, "AgentOther_InService", "AgentState_Ready")
	r := call(t, p.client, http.MethodGet, p.url("agentevent/1001"), g, "")
	if r.status != http.StatusOK || string(r.body) != `{"message":"","retcode":"0"}` {
		t.Fatalf("poll held past the write timeout: HTTP %d %s", r.status, r.body)
	}
}
