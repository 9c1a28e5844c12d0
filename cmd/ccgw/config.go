package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/report"
	"github.com/ccgw/ccgw/internal/sim"
)

// Config is the command line.
type Config struct {
	Addr string
	// AdminAddr is the admin listener's address: the admin API (/ccgw/v1/),
	// /metrics, /healthz and /readyz; AdminOff: none. Not a loopback address, it
	// needs AdminTokenEnv.
	AdminAddr string
	// AdminTokenEnv names the environment variable that holds the bearer token
	// every admin request must then carry.
	AdminTokenEnv    string
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
	// AllowOpenKey starts with a TLS key file that group or others may read,
	// with a warning, instead of refusing it.
	AllowOpenKey bool
	Agents       string
	// Inspectors lists the agents that may use the quality-control interfaces
	// ("1001,1002-1010"), beside those the --agents file marks.
	Inspectors string
	// Lockout: LockoutAttempts wrong passwords within LockoutWindow lock an
	// agent out of signing in for LockoutDuration; 0 attempts: never.
	LockoutAttempts int
	LockoutWindow   time.Duration
	LockoutDuration time.Duration
	AuthMode        string
	GUIDInterval    time.Duration
	GUIDTimeout     time.Duration
	NodeName        string
	QueueSize       int
	LogLevel        string
	LogFormat       string        // text or json
	LogSummary      time.Duration // a summary line this often; 0: none
	ShowVersion     bool          // --version: print the version and exit
	RestTimeout     string
	Push            PushFlags
	Pprof           string
	GCPercent       int // the collector's GOGC; 0 leaves GOGC as the environment sets it
	Sim             SimFlags
	Store           string
	Scenario        string // a simulated call centre to set up (sim.LoadScenario)
	Limits          LimitFlags
	// DataRecover moves a damaged data file aside (ccgw.db.damaged-<time>) and
	// starts empty, where ccgw would refuse to start.
	DataRecover bool
	// ReportAgents is how many agents' clients the workbench's report tracks
	// (0: no report, no request journal); JournalRequests how many requests it
	// keeps per agent (0: none).
	ReportAgents    int
	JournalRequests int
}

// LimitFlags bound what one client can hold of the server (docs/security.md).
type LimitFlags struct {
	MaxConnsPerIP int           // open connections per client IP; 0: no limit
	MaxPollsPerIP int           // held polls per client IP; 0: no limit
	ReadTimeout   time.Duration // reading a whole request; 0: none
	WriteTimeout  time.Duration // writing an answer, from the request's start (a poll adds its wait); 0: none
	IdleTimeout   time.Duration // a keep-alive connection between requests; 0: none
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

// NewMain returns a Main with the default configuration.
func NewMain() *Main {
	return &Main{Stderr: os.Stderr, Config: Config{
		Addr:             "127.0.0.1:8043",
		AdminAddr:        "127.0.0.1:8044",
		Data:             "./ccgw-data",
		HeartbeatTimeout: 2 * time.Minute,
		PollWait:         10 * time.Second,
		AuthMode:         "dynamic",
		RestTimeout:      "remind",
		LockoutAttempts:  5,
		LockoutWindow:    5 * time.Minute,
		LockoutDuration:  5 * time.Minute,
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
		LogFormat:    "text",
		LogSummary:   time.Minute,
		Store:        "bolt",
		GCPercent:    200,
		Limits: LimitFlags{MaxConnsPerIP: 1024, MaxPollsPerIP: 512, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute},
		ReportAgents:    defaultReportAgents,
		JournalRequests: report.DefaultJournal,
	}}
}

// ParseFlags reads the command line into m.Config. The flags not on it are
// then taken from the environment (CCGW_*, envName), and with
// --basic-properties the file's keys set the flags given neither way
// (applyBasicProperties): command line, environment, file, default. Run logs
// what it noted about the environment and the file. -h and --help print the
// usage to stderr and return flag.ErrHelp.
func (m *Main) ParseFlags(args []string, stderr io.Writer) error {
	c := &m.Config
	fs := m.flagSet(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (subcommands come first: ccgw bench, ccgw version, ccgw help)", fs.Arg(0))
	}
	explicit := map[string]bool{} // the flags on the command line or in the environment
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	var err error
	if m.envVars, err = applyEnv(fs, explicit, m.lookupEnv); err != nil {
		return err
	}
	var fromFile []string
	if c.BasicProperties != "" {
		if fromFile, m.propNotes, err = applyBasicProperties(fs, c.BasicProperties, explicit); err != nil {
			return err
		}
	}
	if c.ShowVersion {
		return nil // nothing else matters
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

// flagSet returns the gateway's flags, bound to m.Config, writing errors and
// the usage to out.
func (m *Main) flagSet(out io.Writer) *flag.FlagSet {
	c := &m.Config
	fs := flag.NewFlagSet("ccgw", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address `HOST:PORT` of the vendor's API")
	fs.StringVar(&c.AdminAddr, "admin-addr", c.AdminAddr, "admin listener `HOST:PORT` (admin API /ccgw/v1/, /metrics, health), or off; not loopback, it needs --admin-token-env and is served over TLS unless --plaintext")
	fs.StringVar(&c.AdminTokenEnv, "admin-token-env", c.AdminTokenEnv, "name of an environment `VAR` holding a bearer token (16 characters or more) every admin request must carry")
	fs.StringVar(&c.Data, "data", c.Data, "data `DIR` (sessions, generated certificate)")
	fs.StringVar(&c.Store, "store", c.Store, "where sessions live: bolt (embedded, in --data), memory (this process only: lost when it stops) or redis://HOST:PORT/DB (several nodes)")
	fs.DurationVar(&c.HeartbeatTimeout, "heartbeat-timeout", c.HeartbeatTimeout, "sign an agent out after this long without heartbeat or poll")
	fs.DurationVar(&c.PollModeTimeout, "poll-mode-timeout", c.PollModeTimeout, "timeout of a poll-mode session (MAXTIME); 0: --heartbeat-timeout")
	fs.DurationVar(&c.PushModeTimeout, "push-mode-timeout", c.PushModeTimeout, "timeout of a push-mode session (EVENT_PUSH_HANDSHAKE_MAXTIME); 0: --heartbeat-timeout")
	fs.StringVar(&c.TimeoutDetection, "timeout-detection", c.TimeoutDetection, "on, or off: nobody is signed out for silence (TIMEOUT_FLAG)")
	fs.DurationVar(&c.PollWait, "poll-wait", c.PollWait, "how long an event poll waits when no event is queued; 0 answers at once (AGENT_POLL_WAIT_*)")
	fs.StringVar(&c.BasicProperties, "basic-properties", c.BasicProperties, "vendor basic.properties `FILE`: its keys set the flags not given on the command line")
	fs.BoolVar(&c.Plaintext, "plaintext", c.Plaintext, "serve HTTP instead of HTTPS")
	fs.StringVar(&c.Cert, "cert", c.Cert, "TLS certificate `FILE` (PEM)")
	fs.StringVar(&c.Key, "key", c.Key, "TLS key `FILE` (PEM); refused if group or others may read it")
	fs.BoolVar(&c.AllowOpenKey, "allow-open-key", c.AllowOpenKey, "start with a TLS key file that group or others may read (logged as a warning)")
	fs.StringVar(&c.Agents, "agents", c.Agents, "agent directory `FILE` (JSON); default: every work number, any password")
	fs.StringVar(&c.Inspectors, "inspectors", c.Inspectors, "agents that may use the quality-control interfaces on others: work numbers and ranges, `1001,1002-1010`")
	fs.IntVar(&c.LockoutAttempts, "lockout-attempts", c.LockoutAttempts, "wrong passwords within --lockout-window that lock an agent out (110-016); 0: never")
	fs.DurationVar(&c.LockoutWindow, "lockout-window", c.LockoutWindow, "wrong passwords are counted over this long, from the first")
	fs.DurationVar(&c.LockoutDuration, "lockout-duration", c.LockoutDuration, "how long a locked-out agent cannot sign in, even with the right password")
	fs.StringVar(&c.AuthMode, "auth-mode", c.AuthMode, "GUID authentication: static (AUTHMODE 1) or dynamic (AUTHMODE 2)")
	fs.DurationVar(&c.GUIDInterval, "guid-interval", c.GUIDInterval, "dynamic auth: GUID refresh period (GUIDINTERVAL)")
	fs.DurationVar(&c.GUIDTimeout, "guid-timeout", c.GUIDTimeout, "how long a superseded GUID stays valid (GUIDTIMEOUT)")
	fs.StringVar(&c.NodeName, "node-name", c.NodeName, "node name, the suffix of every GUID")
	fs.IntVar(&c.QueueSize, "queue-size", c.QueueSize, "events kept per agent; the oldest is dropped beyond it")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug (adds a line per request), info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text (logfmt) or json, one object a line")
	fs.DurationVar(&c.LogSummary, "log-summary-interval", c.LogSummary, "log a summary line at INFO this often: requests by method and retcode, heartbeats, polls, sign-ins, sign-outs by cause; 0: none")
	fs.BoolVar(&c.ShowVersion, "version", c.ShowVersion, "print the version, commit and Go version, and exit (as ccgw version)")
	fs.StringVar(&c.RestTimeout, "rest-timeout", c.RestTimeout, "when a rest's time runs out: remind (AgentState_Rest_Timeout, agent stays in rest) or idle (then AgentState_Ready)")
	fs.StringVar(&c.Sim.Clock, "clock", c.Sim.Clock, "real, or virtual: time moves only by POST /ccgw/v1/clock/advance")
	fs.Uint64Var(&c.Sim.Seed, "seed", c.Sim.Seed, "seed of the simulated call centre's randomness")
	fs.DurationVar(&c.Sim.RingTimeout, "ring-timeout", c.Sim.RingTimeout, "an unanswered call returns to its queue after this")
	fs.DurationVar(&c.Sim.CalleeAnswer, "callee-answer", c.Sim.CalleeAnswer, "how long a called customer's phone rings before answering")
	fs.IntVar(&c.Sim.Journal, "journal", c.Sim.Journal, "events kept for GET /ccgw/v1/events")
	fs.StringVar(&c.Scenario, "scenario", c.Scenario, "simulated call centre `FILE` (YAML): skills, simulated agents, arrivals, timed calls, faults")
	fs.IntVar(&c.ReportAgents, "report-agents", c.ReportAgents, "agents whose clients the workbench watches (conformance findings, request journal), the least recently seen forgotten beyond it; 0: none")
	fs.IntVar(&c.JournalRequests, "journal-requests", c.JournalRequests, "requests kept per agent for GET /ccgw/v1/clients/{agentid}/requests; 0: none")
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
	fs.IntVar(&c.Limits.MaxConnsPerIP, "max-conns-per-ip", c.Limits.MaxConnsPerIP, "open connections one client IP may hold; over it a new one is closed at once (0: no limit)")
	fs.IntVar(&c.Limits.MaxPollsPerIP, "max-polls-per-ip", c.Limits.MaxPollsPerIP, "event polls one client IP may have held at once; over it a poll is answered at once, HTTP 429 and 000-007 (0: no limit)")
	fs.DurationVar(&c.Limits.ReadTimeout, "read-timeout", c.Limits.ReadTimeout, "time to read a whole request, headers and body (headers: at most 10s); 0: none")
	fs.DurationVar(&c.Limits.WriteTimeout, "write-timeout", c.Limits.WriteTimeout, "time to answer a request from its start; a held poll adds its wait; 0: none")
	fs.DurationVar(&c.Limits.IdleTimeout, "idle-timeout", c.Limits.IdleTimeout, "a keep-alive connection idle this long is closed; 0: none")
	fs.BoolVar(&c.DataRecover, "data-recover", c.DataRecover, "if the data file is damaged, move it aside (ccgw.db.damaged-<time>) and start empty instead of refusing to start")
	return fs
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
	case c.Plaintext && c.Cert != "":
		return errors.New("--cert and --key serve HTTPS: they cannot go with --plaintext")
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
	case c.Store != "bolt" && c.Store != "memory" && !strings.HasPrefix(c.Store, "redis://") && !strings.HasPrefix(c.Store, "rediss://"):
		return fmt.Errorf("--store %q: want bolt, memory or redis://HOST:PORT/DB", c.Store)
	case c.LockoutAttempts < 0:
		return errors.New("--lockout-attempts must be 0 (off) or more")
	case c.LockoutAttempts > 0 && (c.LockoutWindow <= 0 || c.LockoutDuration <= 0):
		return errors.New("--lockout-window and --lockout-duration must be positive")
	case c.QueueSize < 1:
		return errors.New("--queue-size must be at least 1")
	case c.LogFormat != "text" && c.LogFormat != "json":
		return fmt.Errorf("--log-format %q: want text or json", c.LogFormat)
	case c.LogSummary < 0:
		return errors.New("--log-summary-interval must be 0 (off) or more")
	case c.GCPercent < 0:
		return errors.New("--gc-percent must be 0 or more")
	case c.Limits.MaxConnsPerIP < 0 || c.Limits.MaxPollsPerIP < 0:
		return errors.New("--max-conns-per-ip and --max-polls-per-ip must be 0 (no limit) or more")
	case c.Limits.ReadTimeout < 0 || c.Limits.WriteTimeout < 0 || c.Limits.IdleTimeout < 0:
		return errors.New("--read-timeout, --write-timeout and --idle-timeout must be 0 (none) or more")
	case c.ReportAgents < 0 || c.ReportAgents > maxReportAgents:
		return fmt.Errorf("--report-agents must be 0 (off) to %d", maxReportAgents)
	case c.JournalRequests < 0 || c.JournalRequests > report.MaxJournal:
		return fmt.Errorf("--journal-requests must be 0 (off) to %d", report.MaxJournal)
	case c.NodeName == "" || strings.ContainsAny(c.NodeName, " ;,\"="):
		return errors.New("--node-name must be a plain word")
	}
	if _, err := agent.ParseRanges(c.Inspectors); err != nil {
		return fmt.Errorf("--inspectors: %w", err)
	}
	return c.validateAdmin()
}

// AdminOff is the --admin-addr that starts no admin listener.
const AdminOff = "off"

// minAdminToken is the shortest admin token taken, in bytes.
const minAdminToken = 16

// validateAdmin checks --admin-addr and --admin-token-env: an address that is
// not loopback needs a token, and a token named must be set and long enough.
func (c *Config) validateAdmin() error {
	if c.AdminTokenEnv != "" {
		switch tok := os.Getenv(c.AdminTokenEnv); {
		case tok == "":
			return fmt.Errorf("--admin-token-env: $%s is empty", c.AdminTokenEnv)
		case len(tok) < minAdminToken:
			return fmt.Errorf("--admin-token-env: $%s holds %d characters; want at least %d", c.AdminTokenEnv, len(tok), minAdminToken)
		}
	}
	if c.AdminAddr == AdminOff {
		return nil
	}
	loop, err := loopback(c.AdminAddr)
	if err != nil {
		return fmt.Errorf("--admin-addr %q: %w (or off)", c.AdminAddr, err)
	}
	if !loop && c.AdminTokenEnv == "" {
		return fmt.Errorf("--admin-addr %s is not a loopback address: anyone who reaches it could drive the simulator and read every agent's events; set --admin-token-env VAR (a bearer token every admin request must carry), or listen on 127.0.0.1", c.AdminAddr)
	}
	return nil
}

// loopback reports whether addr (HOST:PORT) names a loopback host: localhost,
// or a loopback IP. An empty host (every interface) is not one.
func loopback(addr string) (bool, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return false, fmt.Errorf("port %q: want 0 to 65535", port)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// lockout returns the lockout policy of the flags.
func (c *Config) lockout() ccgw.LockoutPolicy {
	return ccgw.LockoutPolicy{Attempts: c.LockoutAttempts, Window: c.LockoutWindow, Duration: c.LockoutDuration}
}
