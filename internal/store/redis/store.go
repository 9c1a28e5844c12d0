// Package redis implements the agent sessions on Redis, for several gateway nodes
// that share them: any node serves any agent, each transition is one Lua script
// (Redis is the commit point, so a session that misses its heartbeats is signed
// out exactly once however many nodes sweep), event queues are Redis lists
// whose long polls are woken over pub/sub, and push work is claimed per agent.
package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/push"
	"github.com/ccgw/ccgw/internal/session"
	goredis "github.com/redis/go-redis/v9"
)

// Config configures a Store. Zero values mean the defaults given.
type Config struct {
	URL     string        // redis://HOST:PORT/DB; required
	Prefix  string        // key prefix, with a hash tag; "{ccgw}:"
	Timeout time.Duration // heartbeat timeout; 2m
	// PollTimeout, PushTimeout and NoExpiry are as session.Config's.
	PollTimeout, PushTimeout time.Duration
	NoExpiry                 bool
	Clock                    ccgw.Clock         // clock.Real
	WaitClock                ccgw.Clock         // times held polls; Clock
	Directory                ccgw.Directory     // required
	Log                      *slog.Logger       // discards
	NodeName                 string             // GUID suffix and push-claim owner; "AgentGateway0"
	AuthMode                 session.AuthMode   // AuthStatic
	GUIDInterval             time.Duration      // 60s
	GUIDTimeout              time.Duration      // 120s
	QueueSize                int                // events kept per agent; 1000
	Tick                     time.Duration      // sweep period; session.TickFor(Timeout)
	MaxExpiries              int                // sign-outs per sweep; 10000
	PushLease                time.Duration      // how long a node's push claim on an agent lasts; 15s
	Notify                   func(ccgw.AgentID) // told after events were queued for a push-mode session
	// OnSignOut, if set, is told of every sign-out this node commits, with its
	// cause (as session.Config's).
	OnSignOut func(id ccgw.AgentID, cause ccgw.SignOutCause)
	// RestTimeoutIdle makes an agent whose rest ran out idle (as session.Config).
	RestTimeoutIdle bool
	// Lockout locks an agent out after wrong passwords (session.Guard), counted
	// in this Redis (lockout.go) so that it holds on every node; zero: never.
	Lockout ccgw.LockoutPolicy
	// OnChange and Tap are session.Config's, for changes any node commits: Run
	// reads them from the feed (feed.go) and calls them from one goroutine, in
	// the order Redis committed them; Deliver does so on demand.
	OnChange func(s ccgw.Session)
	Tap      func(ccgw.Event)
}

// Store is session.Service on Redis. It is safe for concurrent use.
type Store struct {
	cfg   Config
	guard session.Guard
	rdb   *goredis.Client
	key   string // the prefix

	ready   atomic.Bool
	waitMu  sync.Mutex // guards waiters
	waiters map[ccgw.AgentID]map[chan struct{}]struct{}
	heldMu  sync.Mutex // guards held
	held    map[ccgw.AgentID]int

	heartbeats atomic.Uint64
	polls      atomic.Uint64
	polled     atomic.Uint64

	feed   feedState // feed.go
	centre centre    // centre.go
}

var _ session.Service = (*Store)(nil)
var _ push.Source = (*Store)(nil)

// Open connects to Redis; it does not fail if Redis is down (the Store reports
// not ready until it is back).
func Open(cfg Config) (*Store, error) {
	if cfg.URL == "" || cfg.Directory == nil {
		return nil, errors.New("redis: Config.URL and Config.Directory are required")
	}
	opt, err := goredis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	opt.MaxRetries = -1 // a retried script could apply twice
	opt.DialTimeout = time.Second
	opt.ReadTimeout = 2 * time.Second
	opt.WriteTimeout = 2 * time.Second
	opt.PoolTimeout = 2 * time.Second
	opt.PoolSize = 256
	if cfg.Prefix == "" {
		cfg.Prefix = "{ccgw}:"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = cfg.Timeout
	}
	if cfg.PushTimeout <= 0 {
		cfg.PushTimeout = cfg.Timeout
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.WaitClock == nil {
		cfg.WaitClock = cfg.Clock
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.NodeName == "" {
		cfg.NodeName = "AgentGateway0"
	}
	if cfg.AuthMode == 0 {
		cfg.AuthMode = session.AuthStatic
	}
	if cfg.GUIDInterval <= 0 {
		cfg.GUIDInterval = 60 * time.Second
	}
	if cfg.GUIDTimeout <= 0 {
		cfg.GUIDTimeout = 120 * time.Second
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1000
	}
	if cfg.Tick <= 0 {
		cfg.Tick = session.TickFor(min(cfg.PollTimeout, cfg.PushTimeout))
	}
	if cfg.MaxExpiries <= 0 {
		cfg.MaxExpiries = 10000
	}
	if cfg.PushLease <= 0 {
		cfg.PushLease = 15 * time.Second
	}
	loggerOnce.Do(func() { goredis.SetLogger(quietLogger{cfg.Log}) })
	s := &Store{cfg: cfg, rdb: goredis.NewClient(opt), key: cfg.Prefix,
		waiters: make(map[ccgw.AgentID]map[chan struct{}]struct{}), held: make(map[ccgw.AgentID]int)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s.ready.Store(s.rdb.Ping(ctx).Err() == nil)
	if s.ready.Load() {
		s.startFeed(ctx) // if this fails, the first read starts it
	}
	s.guard = session.Guard{Directory: cfg.Directory, Policy: cfg.Lockout, Store: s, Clock: cfg.Clock, Log: cfg.Log}
	return s, nil
}

// Ready reports whether Redis answered the last health check.
func (s *Store) Ready() bool { return s.ready.Load() }

// Close closes the connections.
func (s *Store) Close() error { return s.rdb.Close() }

// unavailable is the retcode of every request while Redis cannot be reached: a
// system error (100-007), never a sign-out.
func unavailable(err error) error { return &ccgw.Error{Code: ccgw.RetInternal, Err: err} }

func (s *Store) ms(t time.Time) int64 { return ccgw.Millis(t) }

// deadline returns when a session of mode seen at now expires: far in the
// future with NoExpiry.
func (s *Store) deadline(now time.Time, mode ccgw.Mode) int64 {
	if s.cfg.NoExpiry {
		return s.ms(now.AddDate(100, 0, 0))
	}
	t := s.cfg.PollTimeout
	if mode == ccgw.ModePush {
		t = s.cfg.PushTimeout
	}
	return s.ms(now.Add(t))
}

func (s *Store) ttl() int64 { return s.cfg.Timeout.Milliseconds() }

// run evaluates script with the prefix as ARGV[1].
func (s *Store) run(ctx context.Context, script *goredis.Script, args ...any) (any, error) {
	if !s.ready.Load() {
		return nil, unavailable(errors.New("redis unavailable"))
	}
	res, err := script.Run(ctx, s.rdb, []string{s.key}, append([]any{s.key}, args...)...).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, unavailable(err)
	}
	return res, nil
}

// pair decodes a {retcode, value, ...} script reply.
func pair(res any) (ccgw.Retcode, []string) {
	arr, _ := res.([]any)
	out := make([]string, len(arr))
	for i, v := range arr {
		out[i], _ = v.(string)
	}
	if len(out) == 0 {
		return ccgw.RetInternal, out
	}
	return ccgw.Retcode(out[0]), out
}

func decodeSession(raw string) (ccgw.Session, error) {
	var sess ccgw.Session
	err := json.Unmarshal([]byte(raw), &sess)
	return sess, err
}

// eventJSON returns ev as it is queued (without Seq).
func eventJSON(id ccgw.AgentID, typ string, content json.RawMessage, now time.Time) string {
	b, _ := json.Marshal(ccgw.Event{Type: typ, GenTime: ccgw.Millis(now), WorkNo: id.String(), Content: content})
	return string(b)
}

// parseQueued reads a queued "<seq> <json>" entry.
func parseQueued(v string) (ccgw.Event, bool) {
	i := strings.IndexByte(v, ' ')
	if i < 0 {
		return ccgw.Event{}, false
	}
	seq, err := strconv.ParseUint(v[:i], 10, 64)
	if err != nil {
		return ccgw.Event{}, false
	}
	var ev ccgw.Event
	if json.Unmarshal([]byte(v[i+1:]), &ev) != nil {
		return ccgw.Event{}, false
	}
	ev.Seq = seq
	return ev, true
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, ",")
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// SignIn implements session.Service. A forced sign-in ends the earlier session
// in the same script. There is no sign-in window to overlap: 100-021 never occurs.
// The password check, and the lockout with its RetAccountLocked, is
// session.Guard's, counting in this Redis.
func (s *Store) SignIn(req session.SignIn) (ccgw.Session, error) {
	id := req.Session.Agent
	if !req.SkipPassword {
		if err := s.guard.Check(req.Op, id, req.Password); err != nil {
			return ccgw.Session{}, err
		}
	}
	agent, ok := s.cfg.Directory.Agent(id)
	if !ok {
		return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetBadPassword, Op: req.Op}
	}
	now := s.cfg.Clock.Now()
	sess := req.Session
	sess.Gen = uint64(now.UnixNano())
	sess.GUID = session.NewGUID(s.cfg.NodeName)
	sess.GUIDIssued, sess.LoginTime, sess.StateSince = s.ms(now), s.ms(now), s.ms(now)
	sess.Op, sess.State, sess.TalkRight = req.Op, req.Status, true
	sess.Skills = nil
	for _, sk := range agent.Skills {
		sess.Skills = append(sess.Skills, sk.ID)
	}
	raw, err := json.Marshal(&sess)
	if err != nil {
		return ccgw.Session{}, err
	}
	args := []any{id.String(), string(raw), boolArg(req.Force), s.signInDeadline(now, &sess), s.ms(now), s.ttl(),
		queueMax(s.cfg.QueueSize, &sess), boolArg(sess.Mode == ccgw.ModePush), joinInts(sess.Skills),
		eventJSON(id, ccgw.EvInService, nil, now), eventJSON(id, ccgw.EvReady, nil, now)}
	switch req.Status {
	case ccgw.StateBusy:
		args = append(args, eventJSON(id, ccgw.EvSetNotReadySuccess, ccgw.Content(map[string]string{"reason": "0"}), now))
	case ccgw.StateWork:
		args = append(args, eventJSON(id, ccgw.EvWork, nil, now))
	}
	res, err := s.run(context.Background(), signInScript, args...)
	if err != nil {
		return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetInternal, Op: req.Op, Err: err}
	}
	code, out := pair(res)
	if code != ccgw.RetOK {
		return ccgw.Session{}, &ccgw.Error{Code: code, Op: req.Op}
	}
	if len(out) > 1 && out[1] != "" {
		if old, err := decodeSession(out[1]); err == nil {
			s.ended(old, ccgw.CauseReplaced)
		}
	}
	s.notify(&sess)
	return sess, nil
}

func (s *Store) notify(sess *ccgw.Session) {
	if sess.Mode == ccgw.ModePush && s.cfg.Notify != nil {
		s.cfg.Notify(sess.Agent)
	}
}

// ended logs a sign-out this node committed and tells the pusher.
func (s *Store) ended(sess ccgw.Session, cause ccgw.SignOutCause) {
	if !cause.ByAgent() {
		s.notify(&sess)
	}
	if s.cfg.OnSignOut != nil {
		s.cfg.OnSignOut(sess.Agent, cause)
	}
	s.cfg.Log.Info("signed out", "agent", sess.Agent.String(), "cause", string(cause), "guid", short(sess.GUID))
}

func short(g string) string {
	if len(g) > 8 {
		return g[:8] + "…"
	}
	return g
}

// Heartbeat implements session.Service: one script renews the deadline; a due
// GUID rotation or a new service token costs a second, compare-and-set one.
func (s *Store) Heartbeat(id ccgw.AgentID, guid, token string) (string, error) {
	now := s.cfg.Clock.Now()
	res, err := s.run(context.Background(), heartbeatScript, id.String(), guid, s.ms(now),
		s.deadline(now, ccgw.ModePoll), s.deadline(now, ccgw.ModePush))
	if err != nil {
		return "", err
	}
	code, out := pair(res)
	if code != ccgw.RetOK {
		return "", ccgw.Fail(code)
	}
	s.heartbeats.Add(1)
	return s.afterAuth(id, guid, token, out[1], now)
}

// afterAuth rotates the GUID if due, stores a new token, and returns the GUID
// the client should switch to ("" if it has it).
func (s *Store) afterAuth(id ccgw.AgentID, guid, token, raw string, now time.Time) (string, error) {
	sess, err := decodeSession(raw)
	if err != nil {
		return "", unavailable(err)
	}
	// Only a request with the current GUID rotates it: one with the superseded
	// GUID must keep it valid for GUIDTimeout (session.Manager does the same).
	rotate := s.cfg.AuthMode == session.AuthDynamic && guid == sess.GUID && now.Sub(time.UnixMilli(sess.GUIDIssued)) >= s.cfg.GUIDInterval
	retoken := token != "" && token != sess.ServiceToken
	if rotate || retoken {
		next, err := s.update(id, raw, func(x *ccgw.Session) ([]session.Emit, error) {
			if rotate {
				s.rotate(x, now)
			}
			if retoken {
				x.ServiceToken = token
			}
			return nil, nil
		})
		if err == nil {
			sess = next
		} else if ccgw.CodeOf(err) != ccgw.RetOK && !errors.Is(err, errConflict) {
			return "", err
		} else if fresh, ok := s.Lookup(id); ok {
			sess = fresh // another node rotated first
		}
	}
	if sess.GUID != guid {
		return sess.GUID, nil
	}
	return "", nil
}

func (s *Store) rotate(x *ccgw.Session, now time.Time) {
	x.PrevGUID = x.GUID
	x.PrevUntil = s.ms(now.Add(s.cfg.GUIDTimeout))
	x.GUID = session.NewGUID(s.cfg.NodeName)
	x.GUIDIssued = s.ms(now)
}

var errConflict = errors.New("redis: session changed meanwhile")

// update applies fn to the session stored as raw and writes it back if nobody
// changed it meanwhile (errConflict otherwise; RetNotSignedIn if it is gone).
// If fn fails, nothing is written and update returns fn's error.
func (s *Store) update(id ccgw.AgentID, raw string, fn func(*ccgw.Session) ([]session.Emit, error)) (ccgw.Session, error) {
	sess, err := decodeSession(raw)
	if err != nil {
		return ccgw.Session{}, unavailable(err)
	}
	before := append([]int(nil), sess.Skills...)
	restSeq := sess.RestSeq
	now := s.cfg.Clock.Now()
	evs, err := fn(&sess)
	if err != nil {
		return ccgw.Session{}, err
	}
	next, err := json.Marshal(&sess)
	if err != nil {
		return ccgw.Session{}, err
	}
	off, on := diff(before, sess.Skills)
	args := []any{id.String(), raw, string(next), queueMax(s.cfg.QueueSize, &sess), boolArg(sess.Mode == ccgw.ModePush), joinInts(off), joinInts(on)}
	for _, ev := range evs {
		args = append(args, eventJSON(id, ev.Type, ev.Content, now))
	}
	res, err := s.run(context.Background(), updateScript, args...)
	if err != nil {
		return ccgw.Session{}, err
	}
	switch res {
	case "ok":
		if sess.RestSeq != restSeq && sess.RestUntil != 0 {
			s.scheduleRest(id, &sess)
		}
		if len(evs) > 0 {
			s.notify(&sess)
		}
		return sess, nil
	case "gone":
		return ccgw.Session{}, ccgw.Fail(ccgw.RetNotSignedIn)
	}
	return ccgw.Session{}, errConflict
}

// diff returns the skills in a but not b, and in b but not a.
func diff(a, b []int) (off, on []int) {
	in := func(xs []int, x int) bool {
		for _, y := range xs {
			if y == x {
				return true
			}
		}
		return false
	}
	for _, x := range a {
		if !in(b, x) {
			off = append(off, x)
		}
	}
	for _, x := range b {
		if !in(a, x) {
			on = append(on, x)
		}
	}
	return off, on
}

// maxUpdateAttempts bounds Update's compare-and-set retries. Each conflict
// means another Update of the session committed, so n concurrent Updates need
// at most n attempts; the bound only stops a pathological loop.
const maxUpdateAttempts = 1000

// Update implements session.Service with optimistic compare-and-set, retried
// while other requests (on any node) change the same session: concurrent
// Updates all apply, none is lost. It fails with RetInternal only if the
// session kept changing for maxUpdateAttempts attempts.
func (s *Store) Update(id ccgw.AgentID, guid string, fn func(x *ccgw.Session, now time.Time) ([]session.Emit, error)) (ccgw.Session, error) {
	for attempt := 0; ; attempt++ {
		var raw string
		if guid == "*" {
			v, err := s.get(id)
			if err != nil {
				return ccgw.Session{}, err
			}
			raw = v
		} else {
			v, err := s.auth(id, guid)
			if err != nil {
				return ccgw.Session{}, err
			}
			raw = v
		}
		next, err := s.update(id, raw, func(x *ccgw.Session) ([]session.Emit, error) {
			return fn(x, s.cfg.Clock.Now()) // a refusal is returned before anything is written
		})
		if errors.Is(err, errConflict) {
			if attempt < maxUpdateAttempts {
				continue
			}
			return ccgw.Session{}, unavailable(err)
		}
		return next, err
	}
}

// get returns agent id's raw session (RetNotSignedIn if none).
func (s *Store) get(id ccgw.AgentID) (string, error) {
	if !s.ready.Load() {
		return "", unavailable(errors.New("redis unavailable"))
	}
	v, err := s.rdb.Get(context.Background(), s.key+"s:"+id.String()).Result()
	if errors.Is(err, goredis.Nil) {
		return "", ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if err != nil {
		return "", unavailable(err)
	}
	return v, nil
}

// auth returns agent id's raw session if guid authenticates it, and renews its
// deadline: the request is activity.
func (s *Store) auth(id ccgw.AgentID, guid string) (string, error) {
	now := s.cfg.Clock.Now()
	res, err := s.run(context.Background(), heartbeatScript, id.String(), guid, s.ms(now),
		s.deadline(now, ccgw.ModePoll), s.deadline(now, ccgw.ModePush))
	if err != nil {
		return "", err
	}
	code, out := pair(res)
	if code != ccgw.RetOK {
		return "", ccgw.Fail(code)
	}
	return out[1], nil
}

// UpdateGUID implements session.Service.
func (s *Store) UpdateGUID(id ccgw.AgentID, guid string) (string, error) {
	now := s.cfg.Clock.Now()
	next, err := s.Update(id, guid, func(x *ccgw.Session, _ time.Time) ([]session.Emit, error) {
		s.rotate(x, now)
		return nil, nil
	})
	if err != nil {
		return "", err
	}
	s.renew([]ccgw.AgentID{id}, now)
	return next.GUID, nil
}

// SignOut implements session.Service.
func (s *Store) SignOut(id ccgw.AgentID, guid string, cause ccgw.SignOutCause) error {
	return s.signOut(id, guid, cause, false, "")
}

// Kick implements session.Service.
func (s *Store) Kick(id ccgw.AgentID, cause ccgw.SignOutCause) error {
	return s.signOut(id, "", cause, true, "")
}

// PushFailed implements push.Source: it signs sign-in gen of agent id out
// with CausePushFailed, on whichever node calls it first; a later sign-in of
// the agent is left alone.
func (s *Store) PushFailed(id ccgw.AgentID, gen uint64) {
	err := s.signOut(id, "", ccgw.CausePushFailed, true, strconv.FormatUint(gen, 10))
	if err != nil && ccgw.CodeOf(err) != ccgw.RetNotSignedIn {
		s.cfg.Log.Error("push failure sign-out failed", "agent", id.String(), "err", err)
	}
}

func (s *Store) signOut(id ccgw.AgentID, guid string, cause ccgw.SignOutCause, kick bool, gen string) error {
	now := s.cfg.Clock.Now()
	res, err := s.run(context.Background(), signOutScript, id.String(), guid, string(cause), s.ms(now), s.ttl(),
		s.cfg.QueueSize, boolArg(kick), gen)
	if err != nil {
		return err
	}
	code, out := pair(res)
	if code != ccgw.RetOK {
		return ccgw.Fail(code)
	}
	if sess, err := decodeSession(out[1]); err == nil {
		s.ended(sess, cause)
	}
	return nil
}

// Session implements session.Service.
func (s *Store) Session(id ccgw.AgentID, guid string) (ccgw.Session, error) {
	raw, err := s.auth(id, guid)
	if err != nil {
		return ccgw.Session{}, err
	}
	sess, err := decodeSession(raw)
	if err != nil {
		return ccgw.Session{}, unavailable(err)
	}
	return sess, nil
}

// Lookup implements session.Service.
func (s *Store) Lookup(id ccgw.AgentID) (ccgw.Session, bool) {
	raw, err := s.get(id)
	if err != nil {
		return ccgw.Session{}, false
	}
	sess, err := decodeSession(raw)
	return sess, err == nil
}

// Poll implements session.Service: a long poll on any node, woken over Redis
// pub/sub when an event is queued for the agent; a held poll keeps the session
// alive (its deadline is renewed every tick).
func (s *Store) Poll(ctx context.Context, id ccgw.AgentID, guid string, wait time.Duration) (*ccgw.Event, string, error) {
	ch := s.wait(id)
	defer s.unwait(id, ch)
	timer := s.cfg.WaitClock.NewTimer(wait)
	defer timer.Stop()
	setGUID, first := "", true
	for {
		now := s.cfg.Clock.Now()
		res, err := s.run(ctx, pollScript, id.String(), guid, s.ms(now), s.deadline(now, ccgw.ModePoll))
		if err != nil {
			return nil, "", err
		}
		code, out := pair(res)
		if code != ccgw.RetOK {
			return nil, "", ccgw.Fail(code)
		}
		if first {
			first = false
			s.polls.Add(1)
			if out[2] != "" {
				g, err := s.afterAuth(id, guid, "", out[2], now)
				if err != nil {
					return nil, "", err
				}
				setGUID = g
			}
		}
		if out[1] != "" {
			ev, ok := parseQueued(out[1])
			if ok {
				s.polled.Add(1)
				return &ev, setGUID, nil
			}
			continue
		}
		if out[2] == "" { // a tombstone with nothing left
			return nil, "", ccgw.Fail(ccgw.RetNotSignedIn)
		}
		s.hold(id, 1)
		select {
		case <-ch:
		case <-timer.C():
			s.hold(id, -1)
			return nil, setGUID, nil
		case <-ctx.Done():
			s.hold(id, -1)
			return nil, setGUID, nil
		}
		s.hold(id, -1)
		ch = s.rearm(id, ch)
	}
}

// wait registers a wake-up channel for id's events.
func (s *Store) wait(id ccgw.AgentID) chan struct{} {
	ch := make(chan struct{}, 1)
	s.waitMu.Lock()
	m := s.waiters[id]
	if m == nil {
		m = make(map[chan struct{}]struct{})
		s.waiters[id] = m
	}
	m[ch] = struct{}{}
	s.waitMu.Unlock()
	return ch
}

func (s *Store) unwait(id ccgw.AgentID, ch chan struct{}) {
	s.waitMu.Lock()
	if m := s.waiters[id]; m != nil {
		delete(m, ch)
		if len(m) == 0 {
			delete(s.waiters, id)
		}
	}
	s.waitMu.Unlock()
}

// rearm drains a fired wake-up channel for reuse.
func (s *Store) rearm(id ccgw.AgentID, ch chan struct{}) chan struct{} {
	select {
	case <-ch:
	default:
	}
	return ch
}

func (s *Store) wake(id ccgw.AgentID) {
	s.waitMu.Lock()
	for ch := range s.waiters[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	s.waitMu.Unlock()
}

func (s *Store) hold(id ccgw.AgentID, d int) {
	s.heldMu.Lock()
	s.held[id] += d
	if s.held[id] <= 0 {
		delete(s.held, id)
	}
	s.heldMu.Unlock()
}

// renew pushes the deadlines of ids to now+timeout.
func (s *Store) renew(ids []ccgw.AgentID, now time.Time) {
	if len(ids) == 0 {
		return
	}
	args := []any{s.deadline(now, ccgw.ModePoll)} // only poll-mode sessions hold polls
	for _, id := range ids {
		args = append(args, id.String())
	}
	if _, err := s.run(context.Background(), renewScript, args...); err != nil {
		s.cfg.Log.Warn("renew held polls failed", "err", err)
	}
}

// Stats implements session.Service: cluster-wide counts from Redis, and this
// node's heartbeats and polls. While Redis cannot be read, the cluster-wide
// counts are zero and Partial is set.
func (s *Store) Stats() session.Stats {
	st := session.Stats{
		Heartbeats: s.heartbeats.Load(), Polls: s.polls.Load(), Polled: s.polled.Load(),
		SignOuts: map[ccgw.SignOutCause]uint64{}, Drops: map[ccgw.DropReason]uint64{},
	}
	if !s.ready.Load() {
		st.Partial = true
		return st
	}
	ctx := context.Background()
	n, err := s.rdb.ZCard(ctx, s.key+"dl").Result()
	if err != nil {
		st.Partial = true
		return st
	}
	st.Live = int(n)
	h, err := s.rdb.HGetAll(ctx, s.key+"stats").Result()
	if err != nil {
		return session.Stats{Partial: true, Heartbeats: st.Heartbeats, Polls: st.Polls, Polled: st.Polled,
			SignOuts: st.SignOuts, Drops: st.Drops}
	}
	for k, v := range h {
		n, _ := strconv.ParseUint(v, 10, 64)
		switch {
		case k == "signin":
			st.SignIns = n
		case k == "expiries":
			st.Expiries = n
		case k == "queued":
			st.Queued = n
		case strings.HasPrefix(k, "signout:"):
			st.SignOuts[ccgw.SignOutCause(strings.TrimPrefix(k, "signout:"))] = n
		case strings.HasPrefix(k, "drop:"):
			st.Drops[ccgw.DropReason(strings.TrimPrefix(k, "drop:"))] = n
		}
	}
	return st
}

// Run watches Redis's health, wakes held polls on events, renews held polls'
// deadlines, sweeps expired sessions, hands pending push work to the pusher and
// follows the feed for Config.OnChange and Tap, until ctx ends.
func (s *Store) Run(ctx context.Context) error {
	subscribed := make(chan struct{})
	go func() {
		defer close(subscribed)
		s.subscribe(ctx)
	}()
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		s.follow(ctx)
	}()
	for {
		t := s.cfg.Clock.NewTimer(s.cfg.Tick)
		select {
		case <-ctx.Done():
			t.Stop()
			<-subscribed
			<-followed
			return ctx.Err()
		case <-t.C():
		}
		s.tick(ctx)
	}
}

// subscribe wakes local polls when any node queues an event.
func (s *Store) subscribe(ctx context.Context) {
	for ctx.Err() == nil {
		sub := s.rdb.Subscribe(ctx, s.key+"ev")
		stop := context.AfterFunc(ctx, func() { sub.Close() })
		ch := sub.Channel()
		for msg := range ch {
			if n, err := strconv.ParseUint(msg.Payload, 10, 32); err == nil {
				s.wake(ccgw.AgentID(n))
			}
		}
		stop()
		sub.Close()
		if ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond) // reconnect pacing, not synchronisation
		}
	}
}

// tick is one round of Run's work.
func (s *Store) tick(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	err := s.rdb.Ping(pctx).Err()
	cancel()
	if err != nil {
		if s.ready.Swap(false) {
			s.cfg.Log.Error("redis unreachable: not ready, signing nobody out", "err", err)
		}
		return
	}
	if !s.ready.Swap(true) {
		s.cfg.Log.Info("redis reachable again")
		s.wakeAll()
	}
	now := s.cfg.Clock.Now()
	s.heldMu.Lock()
	ids := make([]ccgw.AgentID, 0, len(s.held))
	for id := range s.held {
		ids = append(ids, id)
	}
	s.heldMu.Unlock()
	s.renew(ids, now)
	s.Sweep(now)
	s.pushPending(ctx)
}

// wakeAll wakes every held poll (after an outage, when messages may be lost).
func (s *Store) wakeAll() {
	s.waitMu.Lock()
	ids := make([]ccgw.AgentID, 0, len(s.waiters))
	for id := range s.waiters {
		ids = append(ids, id)
	}
	s.waitMu.Unlock()
	for _, id := range ids {
		s.wake(id)
	}
}

// Sweep signs out the sessions whose deadline passed by now, in one script:
// each is signed out by exactly one node. Before that, if nobody swept for a
// while (Redis or every node was down), every deadline is moved on by that gap.
// It returns how many sessions this call signed out.
func (s *Store) Sweep(now time.Time) int {
	grace := 10 * s.cfg.Tick
	if grace < time.Second {
		grace = time.Second
	}
	res, err := s.run(context.Background(), expireScript, s.ms(now), s.cfg.MaxExpiries, s.ttl(), s.cfg.QueueSize, grace.Milliseconds())
	if err != nil {
		s.cfg.Log.Warn("sweep failed", "err", err)
		return 0
	}
	arr, _ := res.([]any)
	for _, v := range arr {
		if raw, ok := v.(string); ok {
			if sess, err := decodeSession(raw); err == nil {
				s.ended(sess, ccgw.CauseTimeout)
			}
		}
	}
	s.restsDue(now)
	return len(arr)
}

// scheduleRest files the end of sess's current rest in the rest set.
func (s *Store) scheduleRest(id ccgw.AgentID, sess *ccgw.Session) {
	member := id.String() + ":" + strconv.FormatUint(sess.RestSeq, 10)
	if err := s.rdb.ZAdd(context.Background(), s.key+"rest", goredis.Z{Score: float64(sess.RestUntil), Member: member}).Err(); err != nil {
		s.cfg.Log.Warn("rest timer not filed", "agent", id.String(), "err", err)
	}
}

// restsDue tells the agents whose rest ran out by now: AgentState_Rest_Timeout
// (and idle with RestTimeoutIdle). A script claims each due rest, so exactly one
// node tells it.
func (s *Store) restsDue(now time.Time) {
	res, err := s.run(context.Background(), restDueScript, s.ms(now), s.cfg.MaxExpiries)
	if err != nil {
		return
	}
	arr, _ := res.([]any)
	for _, v := range arr {
		member, _ := v.(string)
		idStr, seqStr, ok := strings.Cut(member, ":")
		id, err1 := ccgw.ParseAgentID(idStr)
		seq, err2 := strconv.ParseUint(seqStr, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		s.Update(id, "*", func(x *ccgw.Session, now time.Time) ([]session.Emit, error) {
			if x.State != ccgw.StateRest || x.RestSeq != seq || x.RestUntil == 0 || time.UnixMilli(x.RestUntil).After(now) {
				return nil, nil
			}
			x.RestUntil = 0
			evs := []session.Emit{{Type: ccgw.EvRestTimeout}}
			if s.cfg.RestTimeoutIdle {
				x.State, x.StateReason, x.StateSince = ccgw.StateIdle, 0, ccgw.Millis(now)
				evs = append(evs, session.Emit{Type: ccgw.EvReady})
			}
			return evs, nil
		})
	}
}

// pushPending notifies the pusher of push-mode agents with events waiting,
// whichever node queued them: a node that died mid-push leaves its claim to
// expire, and another node then takes the work.
func (s *Store) pushPending(ctx context.Context) {
	if s.cfg.Notify == nil {
		return
	}
	ids, err := s.rdb.SMembers(ctx, s.key+"pushpending").Result()
	if err != nil {
		return
	}
	for _, v := range ids {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			s.cfg.Notify(ccgw.AgentID(n))
		}
	}
}

// PushTarget implements push.Source: it claims agent id's push work for this
// node (or keeps its claim) and returns the target; another node's claim means
// no target here.
func (s *Store) PushTarget(id ccgw.AgentID) (push.Target, bool) {
	res, err := s.run(context.Background(), claimScript, id.String(), s.cfg.NodeName, s.cfg.PushLease.Milliseconds())
	if err != nil || res != int64(1) {
		return push.Target{}, false
	}
	// An ended session's last events (AgentOther_ShutdownService) go before a
	// new sign-in's, as on one node.
	ctx := context.Background()
	raw, err := s.rdb.Get(ctx, s.key+"t:"+id.String()).Result()
	pendingTomb := err == nil && s.rdb.LLen(ctx, s.key+"tq:"+id.String()).Val() > 0
	if !pendingTomb {
		if sess, ok := s.Lookup(id); ok && sess.Mode == ccgw.ModePush {
			return push.Target{Agent: id, Gen: sess.Gen, URL: sess.CallbackURI, Token: sess.ServiceToken, GUID: sess.GUID,
				Legacy: sess.LegacyPush, Queue: &queue{s: s, id: id}}, true
		}
	}
	if err != nil {
		s.Release(id)
		return push.Target{}, false
	}
	var t struct {
		GUID   string    `json:"guid"`
		Gen    uint64    `json:"gen,string"` // a string: Lua's numbers would round it
		Mode   ccgw.Mode `json:"mode"`
		URI    string    `json:"uri"`
		Token  string    `json:"token"`
		Legacy bool      `json:"legacy"`
	}
	if json.Unmarshal([]byte(raw), &t) != nil || t.Mode != ccgw.ModePush {
		s.Release(id)
		return push.Target{}, false
	}
	return push.Target{Agent: id, Gen: t.Gen, URL: t.URI, Token: t.Token, GUID: t.GUID, Legacy: t.Legacy, Ended: true,
		Queue: &queue{s: s, id: id, tomb: true}}, true
}

// Delivered implements push.Source; the queue's Ack already removed the events.
func (s *Store) Delivered(ccgw.AgentID, uint64, uint64) {}

// Release implements push.Releaser.
func (s *Store) Release(id ccgw.AgentID) {
	s.run(context.Background(), releaseScript, id.String(), s.cfg.NodeName)
}

// queue is an agent's Redis event list as an push.Queue.
type queue struct {
	s    *Store
	id   ccgw.AgentID
	tomb bool
}

func (q *queue) list() string {
	if q.tomb {
		return q.s.key + "tq:" + q.id.String()
	}
	return q.s.key + "q:" + q.id.String()
}

// Peek implements push.Queue.
func (q *queue) Peek(max int) []ccgw.Event {
	vals, err := q.s.rdb.LRange(context.Background(), q.list(), 0, int64(max)-1).Result()
	if err != nil {
		return nil
	}
	out := make([]ccgw.Event, 0, len(vals))
	for _, v := range vals {
		if ev, ok := parseQueued(v); ok {
			out = append(out, ev)
		}
	}
	return out
}

// Ack implements push.Queue.
func (q *queue) Ack(seq uint64) {
	q.s.run(context.Background(), ackScript, q.id.String(), boolArg(q.tomb), seq, "")
}

// DropHead implements push.Queue.
func (q *queue) DropHead(seq uint64, reason ccgw.DropReason) int {
	res, err := q.s.run(context.Background(), ackScript, q.id.String(), boolArg(q.tomb), seq, string(reason))
	if err != nil {
		return 0
	}
	n, _ := res.(int64)
	return int(n)
}

// quietLogger sends go-redis's own messages to slog at debug level.
type quietLogger struct{ log *slog.Logger }

func (q quietLogger) Printf(ctx context.Context, format string, v ...any) {
	q.log.Debug("redis client", "msg", fmt.Sprintf(format, v...))
}

var loggerOnce sync.Once
