// Command ccgw runs the open agent gateway that speaks Huawei CC-Gateway's HTTP API.
// main only parses flags, wires the packages together and maps signals.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/api"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/guard"
	"github.com/ccgw/ccgw/internal/metrics"
	"github.com/ccgw/ccgw/internal/netlimit"
	"github.com/ccgw/ccgw/internal/push"
	"github.com/ccgw/ccgw/internal/sim"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "bench":
			os.Exit(runBench(os.Args[2:], os.Stdout, os.Stderr))
		case "version", "help":
			os.Exit(runCommand(os.Args[1], os.Args[2:], os.Stdout, os.Stderr))
		case baselineServerCmd:
			os.Exit(baselineServerMain(os.Args[2:]))
		}
	}
	m := NewMain()
	if err := m.ParseFlags(os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "ccgw:", err)
		os.Exit(2)
	}
	if m.Config.ShowVersion {
		writeVersion(os.Stdout, thisBuild())
		os.Exit(0)
	}
	if p := m.Config.GCPercent; p > 0 {
		// Set here, not in Run: it is the process's, and tests run Main in theirs.
		debug.SetGCPercent(p)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		if line, ok := damagedLine(err, m.Config.DataRecover); ok {
			fmt.Fprintln(os.Stderr, line) // one line an operator acts on; not a log record
			os.Exit(1)
		}
		m.Log.Error("start failed", "err", err)
		os.Exit(1)
	}
	<-ctx.Done()
	m.Log.Info("shutting down")
	if err := m.Close(); err != nil {
		m.Log.Error("shutdown", "err", err)
		os.Exit(1)
	}
}

// damagedLine returns the line main prints when err says the data file is
// damaged, and whether it does.
func damagedLine(err error, recovering bool) (string, bool) {
	var dmg *bolt.DamagedError
	if !errors.As(err, &dmg) {
		return "", false
	}
	if recovering {
		return fmt.Sprintf("ccgw: data file %s is damaged (%s) and --data-recover could not set it aside; move it away by hand", dmg.Path, dmg.Reason), true
	}
	return fmt.Sprintf("ccgw: data file %s is damaged (%s); start with --data-recover to move it aside and start empty", dmg.Path, dmg.Reason), true
}

// baselineServerMain is main for the hidden `ccgw bench-baseline-server`. It
// ignores SIGINT: Ctrl-C reaches the whole process group, and the bench that
// started it, stopping, signs its agents out of it first. It ends when stdin ends
// or at SIGTERM.
func baselineServerMain(args []string) int {
	signal.Ignore(os.Interrupt)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	return runBaselineServer(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

// runCommand runs `ccgw version` or `ccgw help` (cmd) with args and returns
// the exit code: 0, or 2 for arguments neither takes.
func runCommand(cmd string, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "ccgw %s: unexpected argument %q\n", cmd, args[0])
		return 2
	}
	if cmd == "version" {
		writeVersion(stdout, thisBuild())
		return 0
	}
	NewMain().flagSet(stdout).Usage()
	return 0
}

// Main is the gateway process: tests run it in process as main does.
type Main struct {
	Config Config
	Log    *slog.Logger
	Stderr io.Writer
	// Env looks up the CCGW_* variables for ParseFlags; nil: os.LookupEnv.
	Env func(key string) (string, bool)
	// SummaryClock ticks the summary line (--log-summary-interval); nil: real.
	SummaryClock ccgw.Clock

	be        *backend
	scenario  *sim.Scenario // loaded by ParseFlags, or by Run from Config.Scenario
	propNotes []propNote    // from --basic-properties, for Run to log
	envVars   []string      // the CCGW_* variables that set flags, for Run to log
	pusher    *push.Pusher
	srv       *http.Server
	pprofSrv  *http.Server
	ln        net.Listener
	adminSrv  *http.Server // nil with --admin-addr off
	adminLn   net.Listener
	adminTLS  *tls.Config // nil: plain HTTP
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	once      sync.Once
	closeErr  error
}

// Run opens the store, restores sessions, starts listening and serving, and
// returns; Close stops it.
func (m *Main) Run(ctx context.Context) error {
	c := m.Config
	if m.Log == nil {
		var err error
		if m.Log, err = newLogger(m.Stderr, c.LogLevel, c.LogFormat); err != nil {
			return err
		}
	}
	if len(m.envVars) > 0 {
		m.Log.Info("flags from the environment", "vars", strings.Join(m.envVars, ","))
	}
	for _, n := range m.propNotes {
		m.Log.Log(ctx, n.level, n.msg, n.logAttrs(c.BasicProperties)...)
	}
	sc := m.scenario
	if sc == nil && c.Scenario != "" {
		var err error
		if sc, err = sim.LoadScenario(c.Scenario); err != nil {
			return err
		}
	}
	dir := agent.Default()
	if sc != nil {
		dir = agent.Open(sc.Skills())
	}
	if c.Agents != "" {
		d, err := agent.Load(c.Agents)
		if err != nil {
			return err
		}
		dir = d
	}
	inspectors, err := agent.ParseRanges(c.Inspectors)
	if err != nil {
		return fmt.Errorf("--inspectors: %w", err)
	}
	dir.AddInspectors(inspectors)
	var pusher *push.Pusher // set before any session can notify it
	var engine *sim.Engine  // likewise
	var clk ccgw.Clock = clock.Real{}
	var virtual *clock.Virtual
	if c.Sim.Clock == "virtual" {
		start := c.Sim.Start
		if start.IsZero() {
			start = time.Now().Truncate(time.Second)
		}
		virtual = clock.NewVirtual(start)
		clk = virtual
	}
	journal := sim.NewJournal(c.Sim.Journal)
	mode := ccgw.AuthStatic
	if c.AuthMode == "dynamic" {
		mode = ccgw.AuthDynamic
	}
	notify := func(id ccgw.AgentID) { pusher.Notify(id) }
	wb := newWorkbench(c, clk, m.Log)
	be, err := m.openBackend(c, dir, clk, mode, notify, journal, func(s ccgw.Session) { engine.AgentChanged(s) }, wb.hooks())
	if err != nil {
		return err
	}
	m.be = be
	wb.be = be
	dir.UsePasswords(be.passwords) // before anyone signs in: the scenario comes next
	st := be
	sm := be.svc
	var secret []byte
	if c.Push.SecretEnv != "" {
		secret = []byte(os.Getenv(c.Push.SecretEnv))
	}
	roots, err := loadPushCA(c.Push.CA)
	if err != nil {
		st.Close()
		return err
	}
	// Callbacks to loopback and private receivers are normal on a laptop (a
	// gateway on loopback only) or where the trustlist names them; elsewhere
	// they would let any client make the gateway POST into its own network.
	policy := &push.CallbackPolicy{Trust: push.ParseTrustlist(c.Push.Trustlist), AllowPrivate: push.ListensOnLoopbackOnly(c.Addr)}
	retry := push.RetryVendor
	if c.Push.Retry == "exponential" {
		retry = push.RetryExponential
	}
	pusher = push.New(push.Config{
		Source:         be.source,
		Insecure:       c.Push.Insecure,
		RootCAs:        roots,
		Retry:          retry,
		RetryInterval:  c.Push.RetryInterval,
		FailTotal:      c.Push.FailTotal,
		Policy:         policy,
		Workers:        c.Push.Workers,
		MaxAttempts:    c.Push.Attempts,
		BaseBackoff:    c.Push.Backoff,
		MaxBackoff:     c.Push.MaxBackoff,
		AttemptTimeout: c.Push.Timeout,
		MaxBatch:       c.Push.BatchEvents,
		Secret:         secret,
		Log:            m.Log,
	})
	m.pusher = pusher
	// On a cluster the node with --scenario runs the call centre; the others
	// carry their clients' call control to it (internal/sim/remote.go).
	var remote sim.Remote
	if be.centre != nil && sc == nil {
		remote = be.centre
	}
	engine = sim.New(sim.Config{Sessions: sm, Directory: dir, Clock: clk, Log: m.Log, Seed: c.Sim.Seed,
		RingTimeout: c.Sim.RingTimeout, CalleeAnswer: c.Sim.CalleeAnswer, Remote: remote})
	restored := be.restored
	serveCentre := sc != nil && be.centre != nil
	if serveCentre {
		if err := be.centre.ClaimCentre(ctx); err != nil {
			st.Close()
			return fmt.Errorf("--scenario: %w", err)
		}
	}
	if sc != nil {
		if err := sc.Apply(engine); err != nil {
			st.Close()
			return err
		}
		if err := sc.AddFaults(wb.faults, clk.Now()); err != nil {
			st.Close()
			return fmt.Errorf("%s: %w", c.Scenario, err)
		}
		m.Log.Info("scenario applied", "file", c.Scenario, "agents", len(sc.Agents), "skills", len(sc.Skills()),
			"clock", c.Sim.Clock, "seed", c.Sim.Seed, "start", clk.Now().Format(time.RFC3339))
	}

	var tlsConf *tls.Config
	var fingerprint string
	if !c.Plaintext {
		tlsConf, fingerprint, err = loadTLS(c, m.Log)
		if err != nil {
			st.Close()
			return err
		}
	}
	if err := m.listenAdmin(c, tlsConf); err != nil {
		st.Close()
		return err
	}
	inner, err := net.Listen("tcp", c.Addr)
	if err != nil {
		m.closeAdminLn()
		st.Close()
		return err
	}
	ln := netlimit.PerIP(inner, c.Limits.MaxConnsPerIP)
	m.ln = ln
	runCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var handler *api.Server
	refused := func() metrics.Refused {
		r := handler.Refused()
		return metrics.Refused{ConnsPerIP: ln.Refused(), PollsPerIP: r.Polls, BodyTooLarge: r.Bodies, AdminStreams: r.Streams}
	}
	build := thisBuild()
	met, err := metrics.New(reg, metrics.Sources{Sessions: sm.Stats, Push: pusher.Stats, Receivers: pusher.Receivers,
		Refused: refused, Ready: be.ready, Build: build})
	if err == nil {
		err = wb.register(reg)
	}
	if err != nil {
		ln.Close()
		m.closeAdminLn()
		st.Close()
		return err
	}
	handler = api.New(api.Config{
		Sessions:   sm,
		Directory:  dir,
		PollWait:   c.PollWait,
		PollAtOnce: c.PollWait == 0,
		Log:        m.Log,
		Ready:      be.ready,
		Calls:      engine,
		Clock:      clk,
		Admin:      &api.Admin{Journal: journal, Virtual: virtual, Now: clk.Now},
		Metrics:    metrics.Handler(reg),
		AdminToken: adminToken(c),
		Observe:    met.ObserveRequest,
		Report:     wb.report,
		Faults:     wb.faults,

		CheckCallback: policy.Check,
		// Without a token the admin listener is on loopback (ParseFlags):
		// it answers only requests that name a local Host.
		AdminLocalOnly: true,
		Lockout:        &guard.Guard{Directory: dir, Policy: c.lockout(), Store: be.lockouts, Clock: clk, Log: m.Log},
		MaxPollsPerIP:  c.Limits.MaxPollsPerIP,
		WriteTimeout:   c.Limits.WriteTimeout,
	})
	if c.Pprof != "" {
		if err := m.servePprof(c.Pprof); err != nil {
			ln.Close()
			m.closeAdminLn()
			st.Close()
			return err
		}
	}
	m.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: headerTimeout(c.Limits.ReadTimeout),
		ReadTimeout:       c.Limits.ReadTimeout,
		WriteTimeout:      c.Limits.WriteTimeout,
		IdleTimeout:       c.Limits.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return runCtx },
		ErrorLog:          slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	attrs := []any{"addr", ln.Addr().String(), "scheme", "", "restored", restored,
		"heartbeat_timeout", c.HeartbeatTimeout.String(), "auth_mode", c.AuthMode, "version", build.Version}
	if tlsConf != nil {
		scheme = "https"
		m.srv.TLSConfig = tlsConf
		attrs = append(attrs, "cert_sha256", fingerprint)
	}
	attrs[3] = scheme
	m.Log.Info("listening", attrs...)

	pusher.Start()
	be.notifyAll()
	m.serveAdmin(runCtx, handler.AdminHandler())
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		be.run(runCtx)
	}()
	if serveCentre {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			be.centre.ServeCentre(runCtx, engine.Serve)
		}()
	}
	if c.LogSummary > 0 {
		sum := &summary{log: m.Log, clock: m.SummaryClock, every: c.LogSummary,
			requests: handler.TakeRequestCounts, stats: sm.Stats}
		if sum.clock == nil {
			sum.clock = clockReal // not the sessions' clock, which may be virtual
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			sum.run(runCtx)
		}()
	}
	go func() {
		defer m.wg.Done()
		var err error
		if tlsConf != nil {
			err = m.srv.ServeTLS(ln, "", "")
		} else {
			err = m.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Log.Error("serve", "err", err)
		}
	}()
	return nil
}

// maxHeaderBytes caps a request's headers (net/http allows 4 KiB more).
const maxHeaderBytes = 64 << 10

// headerTimeout is the time to read a request's headers: 10 s, or the read
// timeout if that is shorter (and set).
func headerTimeout(read time.Duration) time.Duration {
	if read > 0 && read < 10*time.Second {
		return read
	}
	return 10 * time.Second
}

// loadPushCA returns the system's CA pool with the certificates of PEM file
// path added (eventpush.ssl.cert.file), or nil for the system's alone when path
// is empty.
func loadPushCA(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--push-ca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--push-ca %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// servePprof serves net/http/pprof on addr, which must be a loopback address.
func (m *Main) servePprof(addr string) error {
	loop, err := loopback(addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	if !loop {
		return fmt.Errorf("--pprof %s: only a loopback address is allowed", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	m.pprofSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.Log.Info("pprof listening", "addr", ln.Addr().String())
	go m.pprofSrv.Serve(ln)
	return nil
}

var clockReal = clock.Real{}

// newLogger returns a logger writing to w at level (debug, info, warn,
// error) in format: text (logfmt) or json.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// closeAdminLn closes the admin listener of a start that failed.
func (m *Main) closeAdminLn() {
	if m.adminLn != nil {
		m.adminLn.Close()
	}
}

// Addr returns the address the gateway listens on.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// Close stops serving (letting requests in flight finish, ending held polls),
// stops the sweeper and the summary line and closes the store. It is safe to call more than once.
func (m *Main) Close() error {
	m.once.Do(func() {
		if m.srv == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		m.cancel() // wakes held polls and stops the sweeper
		if m.pprofSrv != nil {
			m.pprofSrv.Close()
		}
		err := m.srv.Shutdown(ctx)
		if m.adminSrv != nil {
			if aerr := m.adminSrv.Shutdown(ctx); err == nil {
				err = aerr
			}
		}
		m.wg.Wait()
		m.pusher.Close()
		m.be.flush()
		if cerr := m.be.Close(); err == nil {
			err = cerr
		}
		m.closeErr = err
	})
	return m.closeErr
}
