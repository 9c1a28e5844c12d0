package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/guard"
	"github.com/ccgw/ccgw/internal/push"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/sim"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
	"github.com/ccgw/ccgw/internal/store/redis"
)

// backend is the session service (internal/session) and where its sessions
// and the changed passwords live: one node's memory kept in the bbolt file,
// Redis (several nodes), or this process's memory only.
type backend struct {
	svc       ccgw.SessionService
	passwords ccgw.PasswordStore
	lockouts  ccgw.LockoutStore
	source    push.Source
	run       func(context.Context) error
	ready     func() bool
	restored  int // the sessions it held when opened
	notifyAll func()
	flush     func()
	closeFn   func() error
	// clients lists the live client sessions (on Redis, every node's).
	clients func() []ccgw.AgentID
	// centre relays call control to the node that runs the simulated call
	// centre; nil on one node (bbolt), where the local engine is the only one.
	centre centre
}

// clusterBackend serves the sessions of db with session.Service, configured
// with set; local: db is this process's alone (session.Config.Local).
func clusterBackend(set ccgw.SessionSettings, db ccgw.SharedStore, local bool, passwords ccgw.PasswordStore) (*backend, error) {
	cs, err := session.New(session.Config{SessionSettings: set, Store: db, Local: local})
	if err != nil {
		return nil, err
	}
	return &backend{
		svc: cs, passwords: passwords, lockouts: set.Lockouts, source: cs, run: cs.Run, ready: cs.Ready,
		restored:  cs.Stats(context.Background()).Live,
		notifyAll: func() {}, flush: func() {},
		clients: func() []ccgw.AgentID { return cs.Clients(context.Background()) },
	}, nil
}

// centre is the Redis store's relay to the node of a cluster that runs the
// simulated call centre.
type centre interface {
	sim.Remote
	ClaimCentre(ctx context.Context) error
	ServeCentre(ctx context.Context, h func(req []byte) []byte)
}

// Close closes the store.
func (b *backend) Close() error { return b.closeFn() }

// workbenchHooks are what the integrator's workbench asks of the sessions:
// to be told of sign-outs (the report), to judge every event (drop-events
// faults). Either may be nil.
type workbenchHooks struct {
	onSignOut func(ccgw.AgentID, ccgw.SignOutCause)
	dropEvent func(ccgw.AgentID, ccgw.Event) bool
}

// openBackend opens the store --store names.
func (m *Main) openBackend(c Config, dir ccgw.Directory, clk ccgw.Clock, mode ccgw.AuthMode,
	notify func(ccgw.AgentID), journal *sim.Journal, onChange func(ccgw.Session), wb workbenchHooks) (*backend, error) {
	// What either backend is configured with alike.
	set := ccgw.SessionSettings{
		Timeout:         c.HeartbeatTimeout,
		PollTimeout:     c.PollModeTimeout,
		PushTimeout:     c.PushModeTimeout,
		NoExpiry:        c.TimeoutDetection == "off",
		Clock:           clk,
		WaitClock:       clockReal,
		Directory:       dir,
		Log:             m.Log,
		NodeName:        c.NodeName,
		AuthMode:        mode,
		GUIDInterval:    c.GUIDInterval,
		GUIDTimeout:     c.GUIDTimeout,
		QueueSize:       c.QueueSize,
		Notify:          notify,
		OnSignOut:       wb.onSignOut,
		OnChange:        onChange,
		Tap:             journal.Add,
		DropEvent:       wb.dropEvent,
		RestTimeoutIdle: c.RestTimeout == "idle",
		Lockout:         c.lockout(),
	}
	switch {
	case strings.HasPrefix(c.Store, "redis://") || strings.HasPrefix(c.Store, "rediss://"):
		db, err := redis.Open(redis.Config{URL: c.Store, Log: m.Log, NodeName: c.NodeName})
		if err != nil {
			return nil, err
		}
		set.Lockouts = db
		be, err := clusterBackend(set, db, false, db)
		if err != nil {
			db.Close()
			return nil, err
		}
		be.centre = db
		be.closeFn = func() error {
			be.svc.(*session.Service).Close() // writes the renewals it holds
			return db.Close()
		}
		return be, nil
	case c.Store == "memory":
		// One node on the cluster's session service over a store in this
		// process's memory: nothing outlives the process.
		set.Lockouts = guard.NewMemLockouts()
		be, err := clusterBackend(set, mem.NewShared(), true, agent.NewMemPasswords())
		if err != nil {
			return nil, err
		}
		be.closeFn = be.svc.(*session.Service).Close
		return be, nil
	}
	st, err := bolt.OpenWith(c.Data, bolt.Options{Recover: c.DataRecover, Log: m.Log})
	if err != nil {
		return nil, err
	}
	set.Lockouts = st
	set.Defaults()
	// One node on the cluster's session service over a store in memory kept
	// in the bbolt file: what it restores gets a full timeout from now.
	now := clk.Now()
	// A restore builds a heap that stays live (about 1 KB a session).
	// Collecting while it grows only marks it again at every doubling: half
	// the CPU of a million-session restore (docs/benchmarks.md, "Capacity").
	// It allocates little beyond what it keeps, so one collection after it
	// needs no more memory than collecting during it would.
	gcPercent := debug.SetGCPercent(-1)
	db, restored, err := mem.OpenShared(mem.Durable{
		Log:      st,
		Deadline: func(s *ccgw.Session) int64 { return set.Deadline(now, s.Mode) },
		QueueMax: set.QueueSize,
		Failed:   func(err error) { m.Log.Error("store commit failed", "err", err) },
	})
	debug.SetGCPercent(gcPercent)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("restore: %w", err)
	}
	be, err := clusterBackend(set, db, true, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	be.restored = restored
	// Not ready while writes fail; asked then, a probe write finds out
	// whether they succeed again (nobody else may write to a node taken out).
	be.ready = func() bool { return be.svc.(*session.Service).Ready() && (st.Ready() || st.Probe() == nil) }
	be.closeFn = func() error {
		be.svc.(*session.Service).Close()
		db.Flush() // the deliveries since the last tick
		return st.Close()
	}
	return be, nil
}
