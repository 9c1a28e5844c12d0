package main

import (
	"io"
	"testing"
	"time"
)

func TestParseBenchFlags(t *testing.T) {
	c, err := parseBenchFlags([]string{"--url", "http://127.0.0.1:9", "--agents", "300", "--interval", "300ms",
		"--duration", "2s", "--conns", "8", "--poll", "--insecure", "--out", "p.html", "--baseline", "--first-agent", "2000", "--signin-rate", "50"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "http://127.0.0.1:9" || c.Agents != 300 || c.Interval != 300*time.Millisecond || c.Duration != 2*time.Second ||
		c.Conns != 8 || !c.Poll || !c.Insecure || c.Out != "p.html" || !c.Baseline || c.FirstAgent != 2000 || c.SignInRate != 50 {
		t.Errorf("parsed %+v", c)
	}
	if c.StartBaseline == nil {
		t.Errorf("--baseline: no StartBaseline (want its own process)")
	}
	c, err = parseBenchFlags([]string{"--baseline-in-process"}, io.Discard)
	if err != nil || !c.Baseline || c.StartBaseline != nil {
		t.Errorf("--baseline-in-process: Baseline %v, StartBaseline set %v, %v; want a baseline in this process", c.Baseline, c.StartBaseline != nil, err)
	}
	d, err := parseBenchFlags(nil, io.Discard)
	if err != nil || d.Agents != 10000 || d.Conns != 64 || d.Interval != 30*time.Second || d.FirstAgent != 101 ||
		d.Baseline || d.StartBaseline != nil || d.MetricsURL != "http://127.0.0.1:8044" || d.MetricsToken != "" {
		t.Errorf("defaults %+v, %v", d, err)
	}
	// The gateway's metrics are on its admin listener, with its token.
	t.Setenv("CCGW_TEST_BENCH_TOKEN", "0123456789abcdef")
	m, err := parseBenchFlags([]string{"--metrics-url", "http://127.0.0.1:18044", "--metrics-token-env", "CCGW_TEST_BENCH_TOKEN"}, io.Discard)
	if err != nil || m.MetricsURL != "http://127.0.0.1:18044" || m.MetricsToken != "0123456789abcdef" {
		t.Errorf("--metrics-url, --metrics-token-env: %+v, %v", m, err)
	}
	for _, bad := range [][]string{{"--agents", "0"}, {"--conns", "0"}, {"--interval", "0s"}, {"--duration", "-1s"}, {"extra"}, {"--nope"},
		{"--metrics-token-env", "CCGW_TEST_NO_SUCH_VAR"}} {
		if _, err := parseBenchFlags(bad, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
