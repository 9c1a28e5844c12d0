package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// silentChildEnv makes the test binary, run as a bench-baseline-server, read its
// stdin to the end without listening or writing a URL: a child that never starts.
const silentChildEnv = "CCGW_TEST_SILENT_BASELINE"

// TestMain lets startBaselineProcess re-execute this test binary as it does ccgw:
// run with bench-baseline-server first, the binary is the baseline server.
// Otherwise it clears the CCGW_* variables of the flags and runs the tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == baselineServerCmd {
		if os.Getenv(silentChildEnv) != "" {
			io.Copy(io.Discard, os.Stdin)
			os.Exit(0)
		}
		os.Exit(baselineServerMain(os.Args[2:]))
	}
	// A developer's CCGW_* variables would set the flags every test parses.
	NewMain().flagSet(io.Discard).VisitAll(func(f *flag.Flag) { os.Unsetenv(envName(f.Name)) })
	os.Exit(m.Run())
}

// childEnv is the environment of a child test binary: a -race build would sleep a
// second at exit.
func childEnv(extra ...string) []string {
	return append(os.Environ(), append([]string{"GORACE=atexit_sleep_ms=0 " + os.Getenv("GORACE")}, extra...)...)
}

// checkBare fails t unless the server at url answers a heartbeat as the gateway
// would and, if wantRSS, serves its RSS at /metrics.
func checkBare(t *testing.T, url string, wantRSS bool) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer c.CloseIdleConnections()
	call := func(method, path string) (int, string) {
		req, err := http.NewRequest(method, url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	if code, body := call(http.MethodPost, "/agentgateway/resource/onlineagent/101/handshake"); code != http.StatusOK || body != `{"message":"success","retcode":"0"}` {
		t.Errorf("handshake: %d %s", code, body)
	}
	code, body := call(http.MethodGet, "/metrics")
	if rss := regexp.MustCompile(`(?m)^process_resident_memory_bytes [1-9][0-9]*$`).MatchString(body); rss != wantRSS {
		t.Errorf("/metrics: %d %q; want RSS %v", code, body, wantRSS)
	}
}

func TestRunBaselineServer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		scheme string
		end    string // how it is stopped: "stdin" or "ctx" (SIGTERM in main)
	}{
		{"plain, stdin ends", nil, "http://", "stdin"},
		{"tls, SIGTERM", []string{"--tls"}, "https://", "ctx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stdinR, stdinW := io.Pipe()
			stdoutR, stdoutW := io.Pipe()
			code := make(chan int, 1)
			go func() {
				code <- runBaselineServer(ctx, tc.args, stdinR, stdoutW, io.Discard)
				stdoutW.Close()
			}()
			url, err := bufio.NewReader(stdoutR).ReadString('\n')
			if err != nil {
				t.Fatalf("reading the URL: %v", err)
			}
			url = strings.TrimSuffix(url, "\n")
			if !regexp.MustCompile(`^` + tc.scheme + `127\.0\.0\.1:\d+$`).MatchString(url) {
				t.Fatalf("URL line %q", url)
			}
			checkBare(t, url, true)
			if tc.end == "stdin" {
				stdinW.Close()
			} else {
				cancel()
			}
			if c := <-code; c != 0 {
				t.Errorf("exit code %d", c)
			}
			stdinW.Close()
		})
	}
	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{{"--nope"}, {"extra"}} {
			if c := runBaselineServer(context.Background(), args, strings.NewReader(""), io.Discard, io.Discard); c != 2 {
				t.Errorf("%q: exit code %d, want 2", args, c)
			}
		}
	})
}

// pidOf returns the pid in a BaselineServer's Where.
func pidOf(tb testing.TB, where string) int {
	tb.Helper()
	m := regexp.MustCompile(`^in its own process \(pid (\d+)\)$`).FindStringSubmatch(where)
	if m == nil {
		tb.Fatalf("where %q", where)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// checkGone fails tb if process pid still exists.
func checkGone(tb testing.TB, pid int) {
	tb.Helper()
	p, err := os.FindProcess(pid)
	if err != nil {
		return
	}
	if err := p.Signal(syscall.Signal(0)); err == nil {
		tb.Errorf("baseline server pid %d still running", pid)
	}
}

func TestStartBaselineProcess(t *testing.T) {
	t.Setenv("GORACE", "atexit_sleep_ms=0 "+os.Getenv("GORACE")) // inherited by the re-executed binary
	for _, tc := range []struct {
		name   string
		signal os.Signal // sent before Stop; nil for none
	}{
		{"stop", nil},
		{"SIGINT ignored", syscall.SIGINT}, // Ctrl-C: the bench still signs its agents out of it
		{"SIGTERM", syscall.SIGTERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := startBaselineProcess(io.Discard)(context.Background(), true)
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			pid := pidOf(t, b.Where)
			if !strings.HasPrefix(b.URL, "https://127.0.0.1:") {
				t.Errorf("URL %q", b.URL)
			}
			checkBare(t, b.URL, true)
			if tc.signal != nil {
				p, _ := os.FindProcess(pid)
				if err := p.Signal(tc.signal); err != nil {
					t.Fatal(err)
				}
				if tc.signal == syscall.SIGINT {
					checkBare(t, b.URL, true)
				}
			}
			if err := b.Stop(); err != nil {
				t.Errorf("Stop: %v, want exit 0", err)
			}
			checkGone(t, pid)
		})
	}
}

func TestStartBaselineProcessFails(t *testing.T) {
	t.Run("no URL", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], baselineServerCmd, "--nope")
		cmd.Env = childEnv()
		_, err := startBaselineCmd(context.Background(), cmd, io.Discard)
		var exit *exec.ExitError
		if err == nil || !strings.Contains(err.Error(), "wrote no URL") || !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("start with a bad flag: %v, want no URL and exit status 2", err)
		}
	})
	t.Run("ctx ends first", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], baselineServerCmd)
		cmd.Env = childEnv(silentChildEnv + "=1")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := startBaselineCmd(ctx, cmd, io.Discard)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("start after cancel: %v, want context.Canceled", err)
		}
		if cmd.ProcessState == nil {
			t.Fatal("child not waited for")
		}
		checkGone(t, cmd.Process.Pid)
	})
}
