package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBenchSmoke is the CI smoke run of `ccgw bench` with a small N: the real
// binary's load generator against the real gateway, both on loopback.
func TestBenchSmoke(t *testing.T) {
	p := startGateway(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "bench", "--url", p.scheme+"://"+p.addr,
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
