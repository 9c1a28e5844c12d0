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
	"github.com/ccgw/ccgw/internal/event"
	"github.com/ccgw/ccgw/internal/metrics"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/sim"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "bench" {
		os.Exit(runBench(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == baselineServerCmd {
		os.Exit(baselineServerMain(os.Args[2:]))
	}
	m := NewMain()
	if err := m.ParseFlags(os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "ccgw:", err)
		os.Exit(2)
	}
	if p := m.Config.GCPercent; p > 0 {
		// Set here, not in Run: it is the process's, and tests run Main in theirs.
		debug.SetGCPercent(p)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
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

// Config is the command line.
type Config struct {
	Addr             string
	Data             string
	HeartbeatTimeout time.Duration
	// PollModeTimeout and PushModeTimeout are the timeouts of poll-mode
	// (MAXTIME) and push-mode (EVENT_PUSH_HANDSHAKE_MAXTIME) sessions; 0 means
	// HeartbeatTimeout.
	PollModeTimeout time.Duration
	PushModeTimeout time.Duration
	// TimeoutDetection is "on" or "off" (TIMEOUT_FLAG): off, nobody is signed
	// out for silence.
	TimeoutDetection string
	PollWait         time.Duration
	// BasicProperties is a vendor basic.properties file whose keys set the
	// flags not given on the command line.
	BasicProperties string
	Plaintext       bool
	Cert, Key       string
	Agents          string
	AuthMode        string
	GUIDInterval    time.Duration
	GUIDTimeout     time.Duration
	NodeName        string
	QueueSize       int
	LogLevel        string
	RestTimeout     string
	Push            PushFlags
	Pprof           string
	GCPercent       int // the collector's GOGC; 0 leaves GOGC as the environment sets it
	Sim             SimFlags
	Store           string
	Scenario        string // a simulated call centre to set up (sim.LoadScenario)
}

// SimFlags configure the simulated call centre.
type SimFlags struct {
	Clock        string // real or virtual
	Seed         uint64
	RingTimeout  time.Duration
	CalleeAnswer time.Duration
	Journal      int
	Start        time.Time // where a virtual clock starts; zero: now
}

// merge takes the scenario's settings over the defaults of the flags not in set
// (the flags given on the command line).
func (f *SimFlags) merge(sc *sim.Scenario, set map[string]bool) {
	if !set["clock"] {
		f.Clock = sc.Clock
	}
	if !set["seed"] && sc.Seed != 0 {
		f.Seed = sc.Seed
	}
	if !set["ring-timeout"] && sc.RingTimeout != 0 {
		f.RingTimeout = sc.RingTimeout
	}
	if !set["callee-answer"] && sc.CalleeAnswer != 0 {
		f.CalleeAnswer = sc.CalleeAnswer
	}
	f.Start = sc.Start
}

// PushFlags configure event push to callback URLs.
type PushFlags struct {
	Workers     int
	Attempts    int
	Timeout     time.Duration
	Backoff     time.Duration
	MaxBackoff  time.Duration
	SecretEnv   string
	Insecure    bool
	BatchEvents int
	// Retry is "vendor" (every RetryInterval, signed out when failures add up
	// to FailTotal) or "exponential" (Backoff doubling, Attempts, then dropped).
	Retry         string
	RetryInterval time.Duration // EVENT_PUSH_FAIL_INTERVALTIME
	FailTotal     time.Duration // EVENT_PUSH_FAIL_TOTALTIME
	// Trustlist lists the callback URLs allowed, separated by ";"
	// (EVENT_PUST_WHILTELIST_CALLBACKURI); empty allows any.
	Trustlist string
	CA        string // PEM file of receivers' CAs, added to the system's (eventpush.ssl.cert.file)
}

// Main is the gateway process: tests run it in process as main does.
type Main struct {
	Config Config
	Log    *slog.Logger
	Stderr io.Writer

	be        *backend
	scenario  *sim.Scenario // loaded by ParseFlags, or by Run from Config.Scenario
	propNotes []propNote    // from --basic-properties, for Run to log
	pusher    *event.Pusher
	srv       *http.Server
	pprofSrv  *http.Server
	ln        net.Listener
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	once      sync.Once
	closeErr  error
}

// NewMain returns a Main with the default configuration.
func NewMain() *Main {
	return &Main{Stderr: os.Stderr, Config: Config{
		Addr:             "127.0.0.1:8043",
		Data:             "./ccgw-data",
		HeartbeatTimeout: 2 * time.Minute,
		PollWait:         10 * time.Second,
		AuthMode:         "dynamic",
		RestTimeout:      "remind",
		Sim:              SimFlags{Clock: "real", Seed: 1, RingTimeout: 20 * time.Second, CalleeAnswer: 3 * time.Second, Journal: 100000},
		TimeoutDetection: "on",
		Push: PushFlags{Workers: 256, Attempts: 8, Timeout: 5 * time.Second, Backoff: 500 * time.Millisecond,
			MaxBackoff: 30 * time.Second, BatchEvents: 100,
			Retry: "vendor", RetryInterval: 10 * time.Second, FailTotal: 120 * time.Second},
		GUIDInterval: 60 * time.Second,
		GUIDTimeout:  120 * time.Second,
		NodeName:     "AgentGateway0",
		QueueSize:    1000,
		LogLevel:     "info",
		Store:        "bolt",
		GCPercent:    200,
	}}
}

// ParseFlags reads the command line into m.Config. With --basic-properties, the
// file's keys then set the flags not on the command line (applyBasicProperties);
// Run logs what it noted about the file.
func (m *Main) ParseFlags(args []string, stderr io.Writer) error {
	c := &m.Config
	fs := flag.NewFlagSet("ccgw", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address `HOST:PORT`")
	fs.StringVar(&c.Data, "data", c.Data, "data `DIR` (sessions, generated certificate)")
	fs.StringVar(&c.Store, "store", c.Store, "where sessions live: bolt (embedded, in --data) or redis://HOST:PORT/DB (several nodes)")
	fs.DurationVar(&c.HeartbeatTimeout, "heartbeat-timeout", c.HeartbeatTimeout, "sign an agent out after this long without heartbeat or poll")
	fs.DurationVar(&c.PollModeTimeout, "poll-mode-timeout", c.PollModeTimeout, "timeout of a poll-mode session (MAXTIME); 0: --heartbeat-timeout")
	fs.DurationVar(&c.PushModeTimeout, "push-mode-timeout", c.PushModeTimeout, "timeout of a push-mode session (EVENT_PUSH_HANDSHAKE_MAXTIME); 0: --heartbeat-timeout")
	fs.StringVar(&c.TimeoutDetection, "timeout-detection", c.TimeoutDetection, "on, or off: nobody is signed out for silence (TIMEOUT_FLAG)")
	fs.DurationVar(&c.PollWait, "poll-wait", c.PollWait, "how long an event poll waits when no event is queued; 0 answers at once (AGENT_POLL_WAIT_*)")
	fs.StringVar(&c.BasicProperties, "basic-properties", c.BasicProperties, "vendor basic.properties `FILE`: its keys set the flags not given on the command line")
	fs.BoolVar(&c.Plaintext, "plaintext", c.Plaintext, "serve HTTP instead of HTTPS")
	fs.StringVar(&c.Cert, "cert", c.Cert, "TLS certificate `FILE` (PEM)")
	fs.StringVar(&c.Key, "key", c.Key, "TLS key `FILE` (PEM)")
	fs.StringVar(&c.Agents, "agents", c.Agents, "agent directory `FILE` (JSON); default: every work number, any password")
	fs.StringVar(&c.AuthMode, "auth-mode", c.AuthMode, "GUID authentication: static (AUTHMODE 1) or dynamic (AUTHMODE 2)")
	fs.DurationVar(&c.GUIDInterval, "guid-interval", c.GUIDInterval, "dynamic auth: GUID refresh period (GUIDINTERVAL)")
	fs.DurationVar(&c.GUIDTimeout, "guid-timeout", c.GUIDTimeout, "how long a superseded GUID stays valid (GUIDTIMEOUT)")
	fs.StringVar(&c.NodeName, "node-name", c.NodeName, "node name, the suffix of every GUID")
	fs.IntVar(&c.QueueSize, "queue-size", c.QueueSize, "events kept per agent; the oldest is dropped beyond it")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.RestTimeout, "rest-timeout", c.RestTimeout, "when a rest's time runs out: remind (AgentState_Rest_Timeout, agent stays in rest) or idle (then AgentState_Ready)")
	fs.StringVar(&c.Sim.Clock, "clock", c.Sim.Clock, "real, or virtual: time moves only by POST /ccgw/v1/clock/advance")
	fs.Uint64Var(&c.Sim.Seed, "seed", c.Sim.Seed, "seed of the simulated call centre's randomness")
	fs.DurationVar(&c.Sim.RingTimeout, "ring-timeout", c.Sim.RingTimeout, "an unanswered call returns to its queue after this")
	fs.DurationVar(&c.Sim.CalleeAnswer, "callee-answer", c.Sim.CalleeAnswer, "how long a called customer's phone rings before answering")
	fs.IntVar(&c.Sim.Journal, "journal", c.Sim.Journal, "events kept for GET /ccgw/v1/events")
	fs.StringVar(&c.Scenario, "scenario", c.Scenario, "simulated call centre `FILE` (YAML): skills, simulated agents, arrivals, timed calls")
	fs.StringVar(&c.Pprof, "pprof", c.Pprof, "serve net/http/pprof on this loopback `HOST:PORT` (off when empty)")
	fs.IntVar(&c.GCPercent, "gc-percent", c.GCPercent, "garbage collector target (as GOGC, which it overrides); 0 leaves GOGC as the environment sets it")
	fs.IntVar(&c.Push.Workers, "push-workers", c.Push.Workers, "pushes in flight at once over all receivers; one receiver's limit adapts, up to 3/4 of this")
	fs.IntVar(&c.Push.Attempts, "push-attempts", c.Push.Attempts, "attempts per push before its events are dropped (counted)")
	fs.DurationVar(&c.Push.Timeout, "push-timeout", c.Push.Timeout, "time limit of one push attempt")
	fs.DurationVar(&c.Push.Backoff, "push-backoff", c.Push.Backoff, "first retry delay (doubles per attempt, jittered)")
	fs.DurationVar(&c.Push.MaxBackoff, "push-max-backoff", c.Push.MaxBackoff, "longest retry delay")
	fs.IntVar(&c.Push.BatchEvents, "push-batch", c.Push.BatchEvents, "events per push at most")
	fs.StringVar(&c.Push.SecretEnv, "push-secret-env", c.Push.SecretEnv, "name of an environment `VAR` holding a secret; pushes are then signed (X-CCGW-Signature)")
	fs.BoolVar(&c.Push.Insecure, "push-insecure", c.Push.Insecure, "do not verify callback receivers' TLS certificates (eventpush.ssl.trustAll)")
	fs.StringVar(&c.Push.CA, "push-ca", c.Push.CA, "PEM `FILE` of CA certificates trusted for callback receivers, beside the system's (eventpush.ssl.cert.file)")
	fs.StringVar(&c.Push.Retry, "push-retry", c.Push.Retry, "vendor: retry every --push-retry-interval and sign the agent out when failures add up to --push-fail-total; exponential: --push-backoff doubling, --push-attempts, then drop")
	fs.DurationVar(&c.Push.RetryInterval, "push-retry-interval", c.Push.RetryInterval, "vendor retry: time between attempts after a failed push (EVENT_PUSH_FAIL_INTERVALTIME)")
	fs.DurationVar(&c.Push.FailTotal, "push-fail-total", c.Push.FailTotal, "vendor retry: pushes failing for this long sign the agent out (EVENT_PUSH_FAIL_TOTALTIME)")
	fs.StringVar(&c.Push.Trustlist, "callback-trustlist", c.Push.Trustlist, "callback URLs allowed at sign-in, separated by ';' (EVENT_PUST_WHILTELIST_CALLBACKURI); empty: any")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	explicit := map[string]bool{} // the flags on the command line
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	var fromFile []string
	if c.BasicProperties != "" {
		var err error
		if fromFile, m.propNotes, err = applyBasicProperties(fs, c.BasicProperties, explicit); err != nil {
			return err
		}
	}
	if c.Scenario != "" {
		sc, err := sim.LoadScenario(c.Scenario)
		if err != nil {
			return err
		}
		c.Sim.merge(sc, explicit)
		m.scenario = sc
	}
	if err := c.validate(); err != nil {
		if len(fromFile) > 0 {
			return fmt.Errorf("%w (%s sets --%s)", err, c.BasicProperties, strings.Join(fromFile, ", --"))
		}
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	return nil
}

func (c *Config) validate() error {
	switch {
	case c.HeartbeatTimeout <= 0:
		return errors.New("--heartbeat-timeout must be positive")
	case c.PollWait < 0:
		return errors.New("--poll-wait must not be negative")
	case c.PollModeTimeout < 0 || c.PushModeTimeout < 0:
		return errors.New("--poll-mode-timeout and --push-mode-timeout must not be negative")
	case c.TimeoutDetection != "on" && c.TimeoutDetection != "off":
		return fmt.Errorf("--timeout-detection %q: want on or off", c.TimeoutDetection)
	case c.Push.Retry != "vendor" && c.Push.Retry != "exponential":
		return fmt.Errorf("--push-retry %q: want vendor or exponential", c.Push.Retry)
	case c.Push.RetryInterval <= 0 || c.Push.FailTotal <= 0:
		return errors.New("--push-retry-interval and --push-fail-total must be positive")
	case (c.Cert == "") != (c.Key == ""):
		return errors.New("--cert and --key go together")
	case c.AuthMode != "static" && c.AuthMode != "dynamic":
		return fmt.Errorf("--auth-mode %q: want static or dynamic", c.AuthMode)
	case c.GUIDInterval <= 0 || c.GUIDTimeout <= c.GUIDInterval:
		return errors.New("--guid-interval must be positive and less than --guid-timeout")
	case c.RestTimeout != "remind" && c.RestTimeout != "idle":
		return fmt.Errorf("--rest-timeout %q: want remind or idle", c.RestTimeout)
	case c.Push.Workers < 1 || c.Push.Attempts < 1 || c.Push.BatchEvents < 1:
		return errors.New("--push-workers, --push-attempts and --push-batch must be at least 1")
	case c.Push.Timeout <= 0 || c.Push.Backoff <= 0 || c.Push.MaxBackoff < c.Push.Backoff:
		return errors.New("--push-timeout and --push-backoff must be positive, --push-max-backoff at least --push-backoff")
	case c.Push.SecretEnv != "" && os.Getenv(c.Push.SecretEnv) == "":
		return fmt.Errorf("--push-secret-env: $%s is empty", c.Push.SecretEnv)
	case c.Sim.Clock != "real" && c.Sim.Clock != "virtual":
		return fmt.Errorf("--clock %q: want real or virtual", c.Sim.Clock)
	case c.Sim.RingTimeout <= 0 || c.Sim.CalleeAnswer <= 0 || c.Sim.Journal < 1:
		return errors.New("--ring-timeout and --callee-answer must be positive, --journal at least 1")
	case c.Store != "bolt" && !strings.HasPrefix(c.Store, "redis://") && !strings.HasPrefix(c.Store, "rediss://"):
		return fmt.Errorf("--store %q: want bolt or redis://HOST:PORT/DB", c.Store)
	case c.QueueSize < 1:
		return errors.New("--queue-size must be at least 1")
	case c.GCPercent < 0:
		return errors.New("--gc-percent must be 0 or more")
	case c.NodeName == "" || strings.ContainsAny(c.NodeName, " ;,\"="):
		return errors.New("--node-name must be a plain word")
	}
	return nil
}

// Run opens the store, restores sessions, starts listening and serving, and
// returns; Close stops it.
func (m *Main) Run(ctx context.Context) error {
	c := m.Config
	if m.Log == nil {
		var lvl slog.Level
		if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
			return fmt.Errorf("--log-level: %w", err)
		}
		m.Log = slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: lvl}))
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
	var pusher *event.Pusher // set before any session can notify it
	var engine *sim.Engine   // likewise
	var clk ccgw.Clock = clock.Real{}
	var virtual *clock.Fake
	if c.Sim.Clock == "virtual" {
		start := c.Sim.Start
		if start.IsZero() {
			start = time.Now().Truncate(time.Second)
		}
		virtual = clock.NewFake(start)
		clk = virtual
	}
	journal := sim.NewJournal(c.Sim.Journal)
	mode := session.AuthStatic
	if c.AuthMode == "dynamic" {
		mode = session.AuthDynamic
	}
	notify := func(id ccgw.AgentID) { pusher.Notify(id) }
	be, err := m.openBackend(c, dir, clk, mode, notify, journal, func(s ccgw.Session) { engine.AgentChanged(s) })
	if err != nil {
		return err
	}
	m.be = be
	dir.UsePasswords(be.passwords) // before anyone signs in: restore and the scenario come next
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
	trust := event.ParseTrustlist(c.Push.Trustlist)
	retry := event.RetryVendor
	if c.Push.Retry == "exponential" {
		retry = event.RetryExponential
	}
	pusher = event.NewPusher(event.PushConfig{
		Source:         be.source,
		Insecure:       c.Push.Insecure,
		RootCAs:        roots,
		Retry:          retry,
		RetryInterval:  c.Push.RetryInterval,
		FailTotal:      c.Push.FailTotal,
		Trusted:        trust.Allows,
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
	engine = sim.New(sim.Config{Sessions: sm, Directory: dir, Clock: clk, Log: m.Log, Seed: c.Sim.Seed,
		RingTimeout: c.Sim.RingTimeout, CalleeAnswer: c.Sim.CalleeAnswer})
	// A restore builds a heap that stays live (about 1 KB a session). Collecting
	// while it grows only marks it again at every doubling: half the CPU of a
	// million-session restore (docs/benchmarks.md, "Capacity"). It allocates
	// little beyond what it keeps, so one collection after it needs no more
	// memory than collecting during it would.
	gcPercent := debug.SetGCPercent(-1)
	restored, err := be.restore()
	debug.SetGCPercent(gcPercent)
	if err != nil {
		st.Close()
		return fmt.Errorf("restore: %w", err)
	}
	if sc != nil {
		if err := sc.Apply(engine); err != nil {
			st.Close()
			return err
		}
		m.Log.Info("scenario applied", "file", c.Scenario, "agents", len(sc.Agents), "skills", len(sc.Skills()),
			"clock", c.Sim.Clock, "seed", c.Sim.Seed, "start", clk.Now().Format(time.RFC3339))
	}

	var tlsConf *tls.Config
	var fingerprint string
	if !c.Plaintext {
		tlsConf, fingerprint, err = loadTLS(c)
		if err != nil {
			st.Close()
			return err
		}
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		st.Close()
		return err
	}
	m.ln = ln
	runCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	met, err := metrics.New(reg, metrics.Sources{Sessions: sm.Stats, Push: pusher.Stats, Receivers: pusher.Receivers})
	if err != nil {
		ln.Close()
		st.Close()
		return err
	}
	handler := api.New(api.Config{
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
		Observe:    met.ObserveRequest,

		TrustCallback: trust.Allows,
	})
	if c.Pprof != "" {
		if err := m.servePprof(c.Pprof); err != nil {
			ln.Close()
			st.Close()
			return err
		}
	}
	m.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return runCtx },
		ErrorLog:          slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	attrs := []any{"addr", ln.Addr().String(), "scheme", "", "restored", restored,
		"heartbeat_timeout", c.HeartbeatTimeout.String(), "auth_mode", c.AuthMode}
	if tlsConf != nil {
		scheme = "https"
		m.srv.TLSConfig = tlsConf
		attrs = append(attrs, "cert_sha256", fingerprint)
	}
	attrs[3] = scheme
	m.Log.Info("listening", attrs...)

	pusher.Start()
	be.notifyAll()
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		be.run(runCtx)
	}()
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
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
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

// Addr returns the address the gateway listens on.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// Close stops serving (letting requests in flight finish, ending held polls),
// stops the sweeper and closes the store. It is safe to call more than once.
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
