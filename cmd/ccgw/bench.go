package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ccgw/ccgw/internal/loadtest"
)

// benchUsage heads `ccgw bench -h`.
const benchUsage = `usage: ccgw bench [flags]

Signs agents in to a running gateway, heartbeats each once per interval (spread
evenly over it) on a bounded pool of keep-alive connections for the duration,
signs them out and reports requests/s, handShake latency percentiles, retcodes,
false sign-outs and the gateway's RSS (from /metrics on its admin listener,
--metrics-url). With --baseline it
then runs the same load against a bare net/http server and prints ccgw's ratios
to it. Exits 1 if an agent could not sign in, a request failed or an agent was
falsely signed out.

`

// runBench runs `ccgw bench` with args (those after "bench") and returns the
// exit code: 0 clean, 1 failed or not clean, 2 bad flags.
func runBench(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseBenchFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "ccgw bench:", err)
		return 2
	}
	cfg.Progress = stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := loadtest.Run(ctx, cfg)
	if rep.SignedIn > 0 {
		rep.WriteText(stdout)
	}
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "ccgw bench: interrupted; the figures above cover the run until then")
		return 1
	case err != nil:
		fmt.Fprintln(stderr, "ccgw bench:", err)
		return 1
	case !rep.OK():
		fmt.Fprintln(stderr, "ccgw bench: not clean: see false sign-outs, retcodes and errors above")
		return 1
	}
	if cfg.Out != "" {
		fmt.Fprintln(stderr, "ccgw bench: plot written to", cfg.Out)
	}
	return 0
}

// parseBenchFlags reads `ccgw bench`'s flags into a loadtest.Config.
func parseBenchFlags(args []string, stderr io.Writer) (loadtest.Config, error) {
	c := loadtest.Config{
		URL:        "https://127.0.0.1:8043",
		MetricsURL: "http://127.0.0.1:8044",
		Agents:     10000,
		FirstAgent: 101,
		Interval:   30 * time.Second,
		Duration:   time.Minute,
		Conns:      64,
	}
	fs := flag.NewFlagSet("ccgw bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.URL, "url", c.URL, "gateway `URL`, scheme://host:port")
	fs.StringVar(&c.MetricsURL, "metrics-url", c.MetricsURL, "the gateway's admin listener (--admin-addr) `URL`, scheme://host:port, for its /metrics")
	tokenEnv := fs.String("metrics-token-env", "", "name of an environment `VAR` holding the gateway's admin bearer token (its --admin-token-env)")
	fs.IntVar(&c.Agents, "agents", c.Agents, "agents to sign in and keep alive")
	fs.IntVar(&c.FirstAgent, "first-agent", c.FirstAgent, "work number of the first agent; the others follow it")
	fs.DurationVar(&c.Interval, "interval", c.Interval, "heartbeat interval of each agent")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "how long to measure once every agent has signed in")
	fs.IntVar(&c.Conns, "conns", c.Conns, "keep-alive connections to the gateway at most")
	fs.BoolVar(&c.Poll, "poll", c.Poll, "also poll each agent's events once per interval (a poll is held up to the gateway's --poll-wait when no event is queued, occupying a connection)")
	fs.IntVar(&c.SignInRate, "signin-rate", c.SignInRate, "sign-ins per second at most (0: as fast as the connections allow)")
	fs.BoolVar(&c.Insecure, "insecure", c.Insecure, "do not verify the gateway's TLS certificate")
	fs.StringVar(&c.Out, "out", c.Out, "write an HTML page with a plot of p50/p99 latency per second to `FILE`")
	fs.BoolVar(&c.Baseline, "baseline", c.Baseline, "then run the same load against a bare net/http server in its own process, as the gateway is, and print ratios to it")
	inProcess := fs.Bool("baseline-in-process", false, "like --baseline, but run the bare server inside the bench process, sharing its Go scheduler with the load generator")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if *tokenEnv != "" {
		if c.MetricsToken = os.Getenv(*tokenEnv); c.MetricsToken == "" {
			return c, fmt.Errorf("--metrics-token-env: $%s is empty", *tokenEnv)
		}
	}
	if *inProcess {
		c.Baseline = true // and StartBaseline nil: in this process
	} else if c.Baseline {
		c.StartBaseline = startBaselineProcess(stderr)
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case c.Agents < 1 || c.Conns < 1:
		return c, errors.New("--agents and --conns must be at least 1")
	case c.FirstAgent < 1:
		return c, errors.New("--first-agent must be positive")
	case c.Interval <= 0 || c.Duration <= 0:
		return c, errors.New("--interval and --duration must be positive")
	case c.SignInRate < 0:
		return c, errors.New("--signin-rate must not be negative")
	}
	return c, nil
}
