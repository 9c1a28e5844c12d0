package session

import (
	"context"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/redistest"
	"github.com/ccgw/ccgw/internal/session/sessiontest"
	"github.com/ccgw/ccgw/internal/store/redis"
)

// BenchmarkSignInLockout measures a sign-in with its sign-out on Redis, with
// the lockout off and on (its count read and cleared in Redis).
func BenchmarkSignInLockout(b *testing.B) {
	srv := redistest.Start(b)
	for _, bc := range []struct {
		name string
		p    ccgw.LockoutPolicy
	}{{"lockout=off", ccgw.LockoutPolicy{}}, {"lockout=on", ccgw.LockoutPolicy{Attempts: 5, Window: time.Minute, Duration: time.Minute}}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := sessiontest.DefaultConfig(sessiontest.NewLogs())
			dir := agent.Default()
			db, err := redis.Open(redis.Config{URL: srv.URL(), Prefix: newPrefix()})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			st, err := New(Config{SessionSettings: ccgw.SessionSettings{Clock: cfg.Clock, Directory: dir, Lockout: bc.p, Lockouts: db}, Store: db})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			dir.UsePasswords(db)
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
