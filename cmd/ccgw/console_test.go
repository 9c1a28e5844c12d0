package main

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestMainConsole: the admin listener serves the web console at / and the
// vendor listener answers / 404; Close ends open event streams at once (a
// graceful shutdown does not wait on them), and their clients see the end.
func TestMainConsole(t *testing.T) {
	c := &http.Client{Timeout: 30 * time.Second}
	defer c.CloseIdleConnections()
	m, _ := runMain(t, t.TempDir())
	if resp := do(t, c, http.MethodGet, "http://"+m.AdminAddr()+"/", "", ""); resp.StatusCode != http.StatusOK ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("admin GET /: HTTP %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp := do(t, c, http.MethodGet, "http://"+m.Addr()+"/", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("vendor GET /: HTTP %d, want 404", resp.StatusCode)
	}
	// A Host that is not local, as a page on a rebinding name sends it.
	req, _ := http.NewRequest(http.MethodGet, "http://"+m.AdminAddr()+"/ccgw/v1/clock", nil)
	req.Host = "rebound.example:8044"
	if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("Host rebound.example: %v %v, want 403", resp, err)
	} else {
		resp.Body.Close()
	}

	const n = 3
	ended := make(chan error, n)
	for range n {
		resp, err := c.Get("http://" + m.AdminAddr() + "/ccgw/v1/stream")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET stream: %v %v", resp, err)
		}
		r := bufio.NewReader(resp.Body)
		if l, err := r.ReadString('\n'); err != nil || l != "retry: 2000\n" {
			t.Fatalf("stream's first line %q %v", l, err)
		}
		go func() {
			defer resp.Body.Close()
			_, err := io.Copy(io.Discard, r)
			ended <- err
		}()
	}
	start := time.Now()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Close took %v with streams open", took)
	}
	for range n {
		select {
		case <-ended:
		case <-time.After(10 * time.Second):
			t.Fatal("a stream's client never saw it end")
		}
	}
}
