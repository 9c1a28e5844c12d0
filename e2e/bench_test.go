package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBenchSmoke is the CI smoke run of `ccgw bench` with a small N: the real
// binary's load generator against the real gateway, both on loopback.
func TestBenchSmoke(t *testing.T) {
	// A timeout far above the 300ms interval: on a loaded machine the tool
	// falls seconds behind its schedule (and says so), which is not a false
	// sign-out of the gateway's.
	p := startGateway(t, t.TempDir(), "--heartbeat-timeout", "30s")
	// A guard on a run of a few seconds, not a speed limit: a loaded machine
	// takes several times longer to sign 300 agents in and out.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "bench", "--url", p.scheme+"://"+p.addr, "--metrics-url", p.adminURL(""),
		"--agents", "300", "--interval", "300ms", "--duration", "2s")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := stdout.String()
	t.Logf("ccgw bench output:\n%s", out)
	if err != nil {
		t.Fatalf("ccgw bench: %v\nstderr:\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "WARNING: DATA RACE") {
		t.Errorf("ccgw bench reported a data race:\n%s", stderr.String())
	}
	if !regexp.MustCompile(`(?m)^false sign-outs:\s+0$`).MatchString(out) {
		t.Errorf("output does not report 0 false sign-outs")
	}
	m := regexp.MustCompile(`(?m)^throughput:\s+([0-9.]+) requests/s`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("output has no requests/s figure")
	}
	if rps, _ := strconv.ParseFloat(m[1], 64); rps <= 0 {
		t.Errorf("throughput %v requests/s", rps)
	}
	if !regexp.MustCompile(`(?m)^sign-in:\s+300/300 agents`).MatchString(out) {
		t.Errorf("not every agent signed in")
	}
	if !regexp.MustCompile(`(?m)^gateway:\s+RSS [0-9.]+ MiB`).MatchString(out) {
		t.Errorf("no gateway RSS read from /metrics")
	}
	if !strings.Contains(stderr.String(), "\r") {
		t.Errorf("no progress line on stderr: %q", stderr.String())
	}
}

// TestBenchBaselineOwnProcess runs `ccgw bench --baseline` with a small N: the
// bare server is the real binary re-executed as its own process, reported with
// its pid, RSS and ratios, and gone once the bench has exited.
func TestBenchBaselineOwnProcess(t *testing.T) {
	// As TestBenchSmoke: a timeout far above the interval, and a guard, not a
	// speed limit, on the run.
	p := startGateway(t, t.TempDir(), "--heartbeat-timeout", "30s")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "bench", "--url", p.scheme+"://"+p.addr, "--metrics-url", p.adminURL(""),
		"--agents", "200", "--interval", "200ms", "--duration", "1s", "--baseline")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE")) // the server inherits it
	// The server writes to the bench's stderr: one outliving the bench would hold
	// that pipe open; Run then fails with exec.ErrWaitDelay instead of hanging.
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := stdout.String()
	t.Logf("ccgw bench --baseline output:\n%s", out)
	if err != nil {
		t.Fatalf("ccgw bench --baseline: %v\nstderr:\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "WARNING: DATA RACE") {
		t.Errorf("ccgw bench or its baseline server reported a data race:\n%s", stderr.String())
	}
	m := regexp.MustCompile(`(?m)^baseline:\s+bare net/http in its own process \(pid (\d+)\) at http://127\.0\.0\.1:\d+: ([0-9.]+) requests/s, .*, 0 false sign-outs, RSS [0-9.]+ MiB$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no baseline line for a server in its own process, with RSS")
	}
	if rps, _ := strconv.ParseFloat(m[2], 64); rps <= 0 {
		t.Errorf("baseline throughput %v requests/s", rps)
	}
	r := regexp.MustCompile(`(?m)^ccgw/baseline:\s+requests/s ([0-9.]+)×, p50 [0-9.]+×`).FindStringSubmatch(out)
	if r == nil {
		t.Fatalf("no ccgw/baseline ratios")
	}
	if ratio, _ := strconv.ParseFloat(r[1], 64); ratio <= 0 {
		t.Errorf("requests/s ratio %v", ratio)
	}
	// The bench waited for its server before exiting: the pid is gone, not a zombie.
	pid, _ := strconv.Atoi(m[1])
	if proc, err := os.FindProcess(pid); err == nil {
		if err := proc.Signal(syscall.Signal(0)); err == nil {
			t.Errorf("baseline server pid %d still exists after the bench exited", pid)
		}
	}
}
