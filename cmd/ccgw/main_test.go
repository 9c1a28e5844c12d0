package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/proctest"
	"github.com/ccgw/ccgw/internal/store/bolt"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string // substring of the error; "" for none
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			// The README's flag table (push flags are not in it).
			want := Config{
				Addr: "127.0.0.1:8043", AdminAddr: "127.0.0.1:8044", Data: "./ccgw-data", HeartbeatTimeout: 2 * time.Minute,
				PollWait: 10 * time.Second, AuthMode: "dynamic", RestTimeout: "remind",
				GUIDInterval: 60 * time.Second, GUIDTimeout: 120 * time.Second,
				NodeName: "AgentGateway0", QueueSize: 1000, LogLevel: "info", LogFormat: "text", LogSummary: time.Minute, GCPercent: 200,
				TimeoutDetection: "on",
				LockoutAttempts:  5, LockoutWindow: 5 * time.Minute, LockoutDuration: 5 * time.Minute,
				Limits: LimitFlags{MaxConnsPerIP: 1024, MaxPollsPerIP: 512, ReadTimeout: 30 * time.Second,
					WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute},
				ReportAgents: 1000, JournalRequests: 100,
			}
			got := c
			got.Push, got.Sim, got.Store = PushFlags{}, SimFlags{}, ""
			if got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		}},
		{name: "all set", args: []string{
			"--addr", "127.0.0.1:0", "--data", "/tmp/x", "--heartbeat-timeout", "2s", "--poll-wait", "500ms",
			"--plaintext", "--auth-mode", "static", "--guid-interval", "1s", "--guid-timeout", "3s",
			"--node-name", "AgentGateway1", "--queue-size", "5", "--log-level", "debug",
		}, check: func(t *testing.T, c Config) {
			if c.Addr != "127.0.0.1:0" || c.Data != "/tmp/x" || c.HeartbeatTimeout != 2*time.Second ||
				c.PollWait != 500*time.Millisecond || !c.Plaintext || c.AuthMode != "static" ||
				c.GUIDInterval != time.Second || c.GUIDTimeout != 3*time.Second || c.NodeName != "AgentGateway1" ||
				c.QueueSize != 5 || c.LogLevel != "debug" {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "cert and key", args: []string{"--cert", "c.pem", "--key", "k.pem"}, check: func(t *testing.T, c Config) {
			if c.Cert != "c.pem" || c.Key != "k.pem" {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "dynamic", args: []string{"--auth-mode", "dynamic"}},
		{name: "gc percent", args: []string{"--gc-percent", "0"}, check: func(t *testing.T, c Config) {
			if c.GCPercent != 0 {
				t.Errorf("GCPercent = %d, want 0", c.GCPercent)
			}
		}},
		{name: "negative gc percent", args: []string{"--gc-percent", "-1"}, wantErr: "--gc-percent"},
		{name: "workbench off", args: []string{"--report-agents", "0", "--journal-requests", "0"}, check: func(t *testing.T, c Config) {
			if c.ReportAgents != 0 || c.JournalRequests != 0 {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "negative report agents", args: []string{"--report-agents", "-1"}, wantErr: "--report-agents"},
		{name: "journal too long", args: []string{"--journal-requests", "10001"}, wantErr: "--journal-requests"},
		{name: "cert without key", args: []string{"--cert", "c.pem"}, wantErr: "--cert"},
		{name: "key without cert", args: []string{"--key", "k.pem"}, wantErr: "--cert"},
		{name: "unknown auth mode", args: []string{"--auth-mode", "foo"}, wantErr: "--auth-mode"},
		{name: "store memory", args: []string{"--store", "memory"}, check: func(t *testing.T, c Config) {
			if c.Store != "memory" {
				t.Errorf("Store %q, want memory", c.Store)
			}
		}},
		{name: "unknown store", args: []string{"--store", "mem"}, wantErr: "want bolt, memory or redis://"},
		{name: "negative timeout", args: []string{"--heartbeat-timeout", "-1s"}, wantErr: "--heartbeat-timeout"},
		{name: "zero timeout", args: []string{"--heartbeat-timeout", "0"}, wantErr: "--heartbeat-timeout"},
		{name: "timeout not a duration", args: []string{"--heartbeat-timeout", "2"}, wantErr: "heartbeat-timeout"},
		{name: "negative poll wait", args: []string{"--poll-wait", "-1s"}, wantErr: "--poll-wait"},
		{name: "zero poll wait answers at once", args: []string{"--poll-wait", "0s"}, check: func(t *testing.T, c Config) {
			if c.PollWait != 0 {
				t.Errorf("PollWait %v, want 0", c.PollWait)
			}
		}},
		{name: "bad timeout detection", args: []string{"--timeout-detection", "maybe"}, wantErr: "--timeout-detection"},
		{name: "bad push retry", args: []string{"--push-retry", "never"}, wantErr: "--push-retry"},
		{name: "zero push fail total", args: []string{"--push-fail-total", "0s"}, wantErr: "--push-fail-total"},
		{name: "guid timeout equal to interval", args: []string{"--guid-interval", "60s", "--guid-timeout", "60s"}, wantErr: "--guid-"},
		{name: "guid timeout below interval", args: []string{"--guid-interval", "2m", "--guid-timeout", "1m"}, wantErr: "--guid-"},
		{name: "zero guid interval", args: []string{"--guid-interval", "0s"}, wantErr: "--guid-"},
		{name: "zero queue", args: []string{"--queue-size", "0"}, wantErr: "--queue-size"},
		{name: "node name with space", args: []string{"--node-name", "a b"}, wantErr: "--node-name"},
		{name: "limits", args: []string{"--max-conns-per-ip", "0", "--max-polls-per-ip", "3", "--read-timeout", "0",
			"--write-timeout", "5s", "--idle-timeout", "1m"}, check: func(t *testing.T, c Config) {
			if want := (LimitFlags{MaxPollsPerIP: 3, WriteTimeout: 5 * time.Second, IdleTimeout: time.Minute}); c.Limits != want {
				t.Errorf("Limits %+v, want %+v", c.Limits, want)
			}
		}},
		{name: "negative conns per ip", args: []string{"--max-conns-per-ip", "-1"}, wantErr: "--max-conns-per-ip"},
		{name: "negative polls per ip", args: []string{"--max-polls-per-ip", "-1"}, wantErr: "--max-polls-per-ip"},
		{name: "negative read timeout", args: []string{"--read-timeout", "-1s"}, wantErr: "--read-timeout"},
		{name: "extra argument", args: []string{"--plaintext", "serve"}, wantErr: `unexpected argument "serve"`},
		{name: "plaintext with cert", args: []string{"--plaintext", "--cert", "c.pem", "--key", "k.pem"}, wantErr: "cannot go with --plaintext"},
		{name: "allow open key", args: []string{"--cert", "c.pem", "--key", "k.pem", "--allow-open-key"}, check: func(t *testing.T, c Config) {
			if !c.AllowOpenKey {
				t.Error("AllowOpenKey false")
			}
		}},
		{name: "admin off", args: []string{"--admin-addr", "off"}, check: func(t *testing.T, c Config) {
			if c.AdminAddr != AdminOff {
				t.Errorf("AdminAddr %q", c.AdminAddr)
			}
		}},
		{name: "admin on loopback without token", args: []string{"--admin-addr", "127.0.0.1:0"}},
		{name: "admin on localhost", args: []string{"--admin-addr", "localhost:9000"}},
		{name: "admin on IPv6 loopback", args: []string{"--admin-addr", "[::1]:9000"}},
		{name: "admin on every interface without token", args: []string{"--admin-addr", ":8044"}, wantErr: "--admin-token-env"},
		{name: "admin on 0.0.0.0 without token", args: []string{"--admin-addr", "0.0.0.0:8044"}, wantErr: "is not a loopback address"},
		{name: "admin on a LAN address without token", args: []string{"--admin-addr", "192.0.2.10:8044"}, wantErr: "--admin-token-env"},
		{name: "admin on a host name without token", args: []string{"--admin-addr", "gateway.example:8044"}, wantErr: "--admin-token-env"},
		{name: "admin not loopback with token", args: []string{"--admin-addr", "0.0.0.0:8044", "--admin-token-env", "CCGW_TEST_ADMIN_TOKEN"},
			check: func(t *testing.T, c Config) {
				if c.AdminAddr != "0.0.0.0:8044" || c.AdminTokenEnv != "CCGW_TEST_ADMIN_TOKEN" {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "admin token unset", args: []string{"--admin-token-env", "CCGW_TEST_NO_SUCH_VAR"}, wantErr: "$CCGW_TEST_NO_SUCH_VAR is empty"},
		{name: "admin token short", args: []string{"--admin-token-env", "CCGW_TEST_SHORT_TOKEN"}, wantErr: "want at least 16"},
		{name: "admin addr without port", args: []string{"--admin-addr", "127.0.0.1"}, wantErr: "--admin-addr"},
		{name: "admin addr bad port", args: []string{"--admin-addr", "127.0.0.1:http"}, wantErr: "--admin-addr"},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "nope"},
		{name: "json logs", args: []string{"--log-format", "json", "--log-summary-interval", "0"}, check: func(t *testing.T, c Config) {
			if c.LogFormat != "json" || c.LogSummary != 0 {
				t.Errorf("LogFormat %q, LogSummary %v", c.LogFormat, c.LogSummary)
			}
		}},
		{name: "bad log format", args: []string{"--log-format", "xml"}, wantErr: "--log-format"},
		{name: "negative summary interval", args: []string{"--log-summary-interval", "-1s"}, wantErr: "--log-summary-interval"},
		{name: "version", args: []string{"--version"}, check: func(t *testing.T, c Config) {
			if !c.ShowVersion {
				t.Error("ShowVersion false")
			}
		}},
	}
	t.Setenv("CCGW_TEST_ADMIN_TOKEN", "0123456789abcdef")
	t.Setenv("CCGW_TEST_SHORT_TOKEN", "0123456789abcde")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMain()
			var stderr bytes.Buffer
			err := m.ParseFlags(tt.args, &stderr)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseFlags(%q): %v", tt.args, err)
				}
				if tt.check != nil {
					tt.check(t, m.Config)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseFlags(%q) = %v, want an error mentioning %q", tt.args, err, tt.wantErr)
			}
		})
	}

	t.Run("help", func(t *testing.T) {
		var stderr bytes.Buffer
		if err := NewMain().ParseFlags([]string{"-h"}, &stderr); !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("-h: %v, want flag.ErrHelp", err)
		}
		if !strings.Contains(stderr.String(), "-heartbeat-timeout") {
			t.Errorf("usage does not list the flags: %s", stderr.String())
		}
	})
}

// runMain starts a Main on a free loopback port over data, logging at DEBUG
// into the returned buffer; it is closed when the test ends.
func runMain(t *testing.T, data string) (*Main, *proctest.Log) {
	t.Helper()
	m := NewMain()
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--plaintext", "--data", data}, io.Discard); err != nil {
		t.Fatal(err)
	}
	logs := &proctest.Log{}
	m.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})) // with the request lines
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, logs
}

func do(t *testing.T, c *http.Client, method, url, guid, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	if guid != "" {
		req.Header.Set("Guid", guid)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestMainRunCloseRestore runs the gateway in process as main does: a sign-in
// over HTTP, Close twice, and a second run on the same data that restores the session.
func TestMainRunCloseRestore(t *testing.T) {
	if err := NewMain().Close(); err != nil {
		t.Fatalf("Close before Run: %v", err)
	}
	data := t.TempDir()
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()

	m, logs := runMain(t, data)
	base := "http://" + m.Addr() + "/agentgateway/resource/onlineagent/1001"
	resp := do(t, c, http.MethodPut, base, "", `{"password":"p","phonenum":"70001"}`)
	guid, ok := strings.CutPrefix(resp.Header.Get("Set-GUID"), "JSESSIONID=")
	if resp.StatusCode != http.StatusOK || !ok || guid == "" {
		t.Fatalf("sign in: HTTP %d, Set-GUID %q", resp.StatusCode, resp.Header.Get("Set-GUID"))
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, want := range []string{"msg=listening", "restored=0", "msg=request method=login agent=1001 retcode=0"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("first run's log lacks %q:\n%s", want, logs)
		}
	}
	c.CloseIdleConnections()
	if _, err := c.Get("http://" + m.Addr() + "/healthz"); err == nil {
		t.Error("still serving after Close")
	}

	m2, logs2 := runMain(t, data)
	if !strings.Contains(logs2.String(), "restored=1") {
		t.Errorf("second run's log lacks restored=1:\n%s", logs2)
	}
	base2 := "http://" + m2.Addr() + "/agentgateway/resource/onlineagent/1001"
	resp = do(t, c, http.MethodPost, base2+"/handshake", guid, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(logs2.String(), "method=handShake agent=1001 retcode=0") {
		t.Errorf("handshake with the first run's GUID: HTTP %d\n%s", resp.StatusCode, logs2)
	}
	if err := m2.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestDamagedLine(t *testing.T) {
	dmg := fmt.Errorf("open: %w", &bolt.DamagedError{Path: "ccgw-data/ccgw.db", Reason: "0 bytes"})
	for _, tc := range []struct {
		err        error
		recovering bool
		want       string
	}{
		{dmg, false, "ccgw: data file ccgw-data/ccgw.db is damaged (0 bytes); start with --data-recover to move it aside and start empty"},
		{dmg, true, "ccgw: data file ccgw-data/ccgw.db is damaged (0 bytes) and --data-recover could not set it aside; move it away by hand"},
		{errors.New("listen: address in use"), false, ""},
	} {
		got, ok := damagedLine(tc.err, tc.recovering)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("damagedLine(%v, %v) = %q, %v; want %q", tc.err, tc.recovering, got, ok, tc.want)
		}
	}
}

func TestHeaderTimeout(t *testing.T) {
	for read, want := range map[time.Duration]time.Duration{
		0: 10 * time.Second, time.Second: time.Second, 10 * time.Second: 10 * time.Second, time.Minute: 10 * time.Second,
	} {
		if got := headerTimeout(read); got != want {
			t.Errorf("headerTimeout(%v) = %v, want %v", read, got, want)
		}
	}
}

// TestMainAdminListener: Run opens the admin listener (--admin-addr), logs it
// as msg="admin listening", and serves the admin API and /metrics there only;
// /healthz is on both listeners.
func TestMainAdminListener(t *testing.T) {
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	m, logs := runMain(t, t.TempDir())
	if m.AdminAddr() == "" || m.AdminAddr() == m.Addr() {
		t.Fatalf("admin address %q (vendor %q)", m.AdminAddr(), m.Addr())
	}
	if want := `msg="admin listening" addr=` + m.AdminAddr() + " scheme=http auth=none"; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs)
	}
	for _, tc := range []struct {
		addr, path string
		want       int
	}{
		{m.AdminAddr(), "/ccgw/v1/clock", http.StatusOK},
		{m.AdminAddr(), "/metrics", http.StatusOK},
		{m.AdminAddr(), "/healthz", http.StatusOK},
		{m.AdminAddr(), "/readyz", http.StatusOK},
		{m.Addr(), "/ccgw/v1/clock", http.StatusNotFound},
		{m.Addr(), "/metrics", http.StatusNotFound},
		{m.Addr(), "/healthz", http.StatusOK},
		{m.Addr(), "/readyz", http.StatusOK},
	} {
		if resp := do(t, c, http.MethodGet, "http://"+tc.addr+tc.path, "", ""); resp.StatusCode != tc.want {
			t.Errorf("GET %s%s: HTTP %d, want %d", tc.addr, tc.path, resp.StatusCode, tc.want)
		}
	}
	admin := m.AdminAddr()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	c.CloseIdleConnections()
	if _, err := c.Get("http://" + admin + "/healthz"); err == nil {
		t.Error("admin listener still serving after Close")
	}
}

// TestMainAdminOff: --admin-addr off starts no admin listener.
func TestMainAdminOff(t *testing.T) {
	m := NewMain()
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--admin-addr", "off", "--plaintext", "--data", t.TempDir()}, io.Discard); err != nil {
		t.Fatal(err)
	}
	logs := &proctest.Log{}
	m.Log = slog.New(slog.NewTextHandler(logs, nil))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.AdminAddr() != "" || strings.Contains(logs.String(), `msg="admin listening"`) {
		t.Fatalf("admin address %q with --admin-addr off:\n%s", m.AdminAddr(), logs)
	}
}
