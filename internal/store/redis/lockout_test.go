package redis

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/guard"
	"github.com/ccgw/ccgw/internal/redistest"
	"github.com/ccgw/ccgw/internal/session/lockouttest"
)

// TestLockoutStore runs the LockoutStore suite on a real redis-server.
func TestLockoutStore(t *testing.T) {
	srv := redistest.Start(t)
	lockouttest.Run(t, func(t *testing.T) ccgw.LockoutStore {
		return open(t, srv, newPrefix(), "")
	})
}

// TestLockoutAcrossNodes: two nodes on one Redis and one fake clock, each
// with its own directory and guard.Guard, 5 wrong passwords within 5 minutes
// lock for 5. Wrong passwords sent to both nodes add up: 3 on A and the 2nd
// on B lock the agent on both, for every sign-in operation, even with the
// right password; another agent signs in meanwhile. When the clock reaches
// the lock's end the right password signs in on either node. The record's
// key carries a TTL, so Redis forgets it on its own; while Redis is down a
// check is a system error (100-007), never a sign-in.
func TestLockoutAcrossNodes(t *testing.T) {
	policy := ccgw.LockoutPolicy{Attempts: 5, Window: 5 * time.Minute, Duration: 5 * time.Minute}
	p := newPair(t)
	fc := clock.NewVirtual(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	dirA, dirB := agent.Default(), agent.Default()
	dirA.UsePasswords(p.a)
	dirB.UsePasswords(p.b)
	log := slog.New(slog.DiscardHandler)
	ga := &guard.Guard{Directory: dirA, Policy: policy, Store: p.a, Clock: fc, Log: log}
	gb := &guard.Guard{Directory: dirB, Policy: policy, Store: p.b, Clock: fc, Log: log}
	const id = 5001
	if err := dirA.SetPassword(id, "Gr8!Pass"); err != nil {
		t.Fatal(err)
	}
	login := func(g *guard.Guard, op, pw string) error { return g.Check(context.Background(), op, id, pw) }
	for i, g := range []*guard.Guard{ga, gb, ga, gb} {
		wantCodeT(t, fmt.Sprintf("wrong password %d", i+1), login(g, "login", "guess"), ccgw.RetBadPassword)
		fc.Advance(time.Minute)
	}
	wantCodeT(t, "5th wrong password, on A", login(ga, "login", "guess"), ccgw.RetAccountLocked)
	for _, g := range []*guard.Guard{ga, gb} {
		for _, op := range []string{"login", "forceLogin", "loginEx"} {
			wantCodeT(t, op+" with the right password, locked", login(g, op, "Gr8!Pass"), ccgw.RetAccountLocked)
		}
	}
	wantOK(t, "another agent on B", gb.Check(context.Background(), "login", id+1, "anything"))

	ttl, err := client(t, p.srv).PTTL(context.Background(), fmt.Sprintf("%slk:%d", p.a.key, id)).Result()
	if err != nil || ttl <= 0 || ttl > policy.Duration {
		t.Fatalf("PTTL of the record: %v, %v; want (0, %v]", ttl, err, policy.Duration)
	}

	fc.Advance(policy.Duration - time.Millisecond)
	wantCodeT(t, "right password 1ms before the lock ends, on B", login(gb, "login", "Gr8!Pass"), ccgw.RetAccountLocked)
	fc.Advance(time.Millisecond)
	wantOK(t, "right password when the lock ends, on B", login(gb, "login", "Gr8!Pass"))
	if n, err := client(t, p.srv).Exists(context.Background(), fmt.Sprintf("%slk:%d", p.a.key, id)).Result(); err != nil || n != 0 {
		t.Errorf("the record outlived the right password: EXISTS %d, %v", n, err)
	}

	p.srv.Stop()
	wantCodeT(t, "right password, Redis down", login(ga, "login", "Gr8!Pass"), ccgw.RetInternal)
	wantCodeT(t, "wrong password, Redis down", login(ga, "login", "guess"), ccgw.RetInternal)
}

// BenchmarkCheckLockout is a password check on Redis of an agent of the
// built-in directory (no hash), without and with the lockout: the lockout
// adds a read of the agent's record and a script after the right password.
func BenchmarkCheckLockout(b *testing.B) {
	srv := redistest.Start(b)
	for _, bc := range []struct {
		name string
		p    ccgw.LockoutPolicy
	}{{"lockout=off", ccgw.LockoutPolicy{}}, {"lockout=on", ccgw.LockoutPolicy{Attempts: 5, Window: time.Minute, Duration: time.Minute}}} {
		b.Run(bc.name, func(b *testing.B) {
			st := open(b, srv, newPrefix(), "")
			dir := agent.Default()
			dir.UsePasswords(st)
			g := &guard.Guard{Directory: dir, Policy: bc.p, Store: st, Clock: clock.Real{}, Log: slog.New(slog.DiscardHandler)}
			b.ReportAllocs()
			for b.Loop() {
				if err := g.Check(context.Background(), "login", 1001, "x"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
