package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/redistest"
	"github.com/ccgw/ccgw/internal/session/lockouttest"
	"github.com/ccgw/ccgw/internal/session/sessiontest"
)

// TestLockoutStore runs the LockoutStore suite on a real redis-server.
func TestLockoutStore(t *testing.T) {
	srv := redistest.Start(t)
	lockouttest.Run(t, func(t *testing.T) ccgw.LockoutStore {
		return open(t, srv, newPrefix(), sessiontest.DefaultConfig(sessiontest.NewLogs()), nil)
	})
}

// TestLockoutAcrossNodes: two nodes on one Redis and one fake clock, 5 wrong
// passwords within 5 minutes lock for 5. Wrong passwords sent to both nodes add
// up: 3 on A and the 2nd on B locks the agent on both, for every sign-in
// interface, even with the right password; another agent signs in meanwhile.
// When the clock reaches the lock's end the right password signs in on either
// node. The record's key carries a TTL, so Redis forgets it on its own; while
// Redis is down a sign-in is a system error (100-007), never a sign-in.
func TestLockoutAcrossNodes(t *testing.T) {
	policy := ccgw.LockoutPolicy{Attempts: 5, Window: 5 * time.Minute, Duration: 5 * time.Minute}
	dirA, dirB := agent.Default(), agent.Default()
	p := newPair(t, func(c *Config) {
		c.Lockout = policy
		if c.NodeName == "AgentGateway2" {
			c.Directory = dirB
		} else {
			c.Directory = dirA
		}
	})
	dirA.UsePasswords(p.a)
	dirB.UsePasswords(p.b)
	const id = 5001
	if err := dirA.SetPassword(id, "Gr8!Pass"); err != nil {
		t.Fatal(err)
	}
	login := func(st *Store, op, pw string) error {
		s, err := st.SignIn(context.Background(), ccgw.SignIn{Op: op, Password: pw, Status: ccgw.StateIdle, Session: ccgw.Session{Agent: id}})
		if err == nil {
			wantOK(t, "logout", st.SignOut(context.Background(), id, s.GUID, ccgw.CauseLogout))
		}
		return err
	}
	for i, st := range []*Store{p.a, p.b, p.a, p.b} {
		wantCodeT(t, fmt.Sprintf("wrong password %d", i+1), login(st, "login", "guess"), ccgw.RetBadPassword)
		p.fc.Advance(time.Minute)
	}
	wantCodeT(t, "5th wrong password, on A", login(p.a, "login", "guess"), ccgw.RetAccountLocked)
	for _, st := range []*Store{p.a, p.b} {
		for _, op := range []string{"login", "forceLogin", "loginEx"} {
			wantCodeT(t, op+" with the right password, locked", login(st, op, "Gr8!Pass"), ccgw.RetAccountLocked)
		}
	}
	_, err := p.b.SignIn(context.Background(), ccgw.SignIn{Op: "login", Password: "anything", Status: ccgw.StateIdle, Session: ccgw.Session{Agent: id + 1}})
	wantOK(t, "another agent on B", err)

	ttl, err := client(t, p.srv).PTTL(context.Background(), fmt.Sprintf("%slk:%d", p.a.key, id)).Result()
	if err != nil || ttl <= 0 || ttl > policy.Duration {
		t.Fatalf("PTTL of the record: %v, %v; want (0, %v]", ttl, err, policy.Duration)
	}

	p.fc.Advance(policy.Duration - time.Millisecond)
	wantCodeT(t, "right password 1ms before the lock ends, on B", login(p.b, "login", "Gr8!Pass"), ccgw.RetAccountLocked)
	p.fc.Advance(time.Millisecond)
	wantOK(t, "right password when the lock ends, on B", login(p.b, "login", "Gr8!Pass"))
	if n, err := client(t, p.srv).Exists(context.Background(), fmt.Sprintf("%slk:%d", p.a.key, id)).Result(); err != nil || n != 0 {
		t.Errorf("the record outlived the right password: EXISTS %d, %v", n, err)
	}

	p.srv.Stop()
	wantCodeT(t, "right password, Redis down", login(p.a, "login", "Gr8!Pass"), ccgw.RetInternal)
	wantCodeT(t, "wrong password, Redis down", login(p.a, "login", "guess"), ccgw.RetInternal)
}

// BenchmarkSignInLockout is a sign-in and sign-out on Redis of an agent of the
// built-in directory (no hash), without and with the lockout: the lockout adds
// a read of the agent's record and a script after the right password.
func BenchmarkSignInLockout(b *testing.B) {
	srv := redistest.Start(b)
	for _, bc := range []struct {
		name string
		p    ccgw.LockoutPolicy
	}{{"lockout=off", ccgw.LockoutPolicy{}}, {"lockout=on", ccgw.LockoutPolicy{Attempts: 5, Window: time.Minute, Duration: time.Minute}}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := sessiontest.DefaultConfig(sessiontest.NewLogs())
			dir := agent.Default()
			st, err := Open(Config{URL: srv.URL(), Prefix: newPrefix(), Clock: cfg.Clock, Directory: dir, Lockout: bc.p})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			dir.UsePasswords(st)
			b.ReportAllocs()
			for b.Loop() {
				s, err := st.SignIn(context.Background(), ccgw.SignIn{Op: "login", Password: "x", Status: ccgw.StateIdle, Session: ccgw.Session{Agent: 1001}})
				if err != nil {
					b.Fatal(err)
				}
				if err := st.SignOut(context.Background(), 1001, s.GUID, ccgw.CauseLogout); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
