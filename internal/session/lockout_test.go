package session_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/guard"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/store/bolt"
)

// tLockPolicy is the policy of the Manager tests: 5 wrong passwords within 5
// minutes lock for 5 minutes (the flags' defaults).
var tLockPolicy = ccgw.LockoutPolicy{Attempts: 5, Window: 5 * time.Minute, Duration: 5 * time.Minute}

// tLockEnv is a Manager on a fake clock and a bolt store in dir, with the
// directory of tFileDirectory and tLockPolicy, counting in the bolt store.
type tLockEnv struct {
	fc  *clock.Virtual
	dir *agent.Directory
	st  *bolt.Store
	m   *session.Manager
}

func tLockOpen(t *testing.T, dataDir string, fc *clock.Virtual, dir *agent.Directory, p ccgw.LockoutPolicy) *tLockEnv {
	t.Helper()
	st, err := bolt.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir.UsePasswords(st)
	m, err := session.New(session.Config{SessionSettings: ccgw.SessionSettings{Clock: fc, Directory: dir, Lockout: p, Lockouts: st}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return &tLockEnv{fc: fc, dir: dir, st: st, m: m}
}

// signIn signs agent id in (and out again, if it worked) and returns the retcode.
func (e *tLockEnv) signIn(t *testing.T, op string, id ccgw.AgentID, pw string) ccgw.Retcode {
	t.Helper()
	s, err := e.m.SignIn(context.Background(), ccgw.SignIn{Op: op, Password: pw, Status: ccgw.StateIdle, Session: ccgw.Session{Agent: id}})
	if err == nil {
		if err := e.m.SignOut(context.Background(), id, s.GUID, ccgw.CauseLogout); err != nil {
			t.Fatalf("sign-out: %v", err)
		}
	}
	return ccgw.CodeOf(err)
}

func (e *tLockEnv) want(t *testing.T, what, op string, id ccgw.AgentID, pw string, want ccgw.Retcode) {
	t.Helper()
	if got := e.signIn(t, op, id, pw); got != want {
		t.Fatalf("%s: %s, want %s", what, got, want)
	}
}

// TestSignInLockout: the 5th wrong password within the window answers 110-016
// and locks the agent, which then gets 110-016 even with the right password,
// on every sign-in interface, until the lock's 5 minutes are over to the
// millisecond (fake clock); another agent signs in meanwhile; after the lock
// the right password signs in and forgets the count.
func TestSignInLockout(t *testing.T) {
	e := tLockOpen(t, t.TempDir(), clock.NewVirtual(tFileStart), tFileDirectory(t), tLockPolicy)
	for i := range 4 {
		e.want(t, fmt.Sprintf("wrong password %d", i+1), "login", 1001, "wrong", ccgw.RetBadPassword)
		e.fc.Advance(time.Minute - time.Millisecond) // four within 4 minutes
	}
	e.want(t, "5th wrong password", "loginEx", 1001, "wrong", ccgw.RetAccountLocked)
	lockedAt := e.fc.Now()
	for _, op := range []string{"login", "forceLogin", "loginEx"} {
		e.want(t, op+" with the right password, locked", op, 1001, "S3cret!pw", ccgw.RetAccountLocked)
	}
	e.want(t, "another agent", "login", 1002, "0therPw!x", ccgw.RetOK)
	e.fc.Advance(tLockPolicy.Duration - time.Millisecond)
	e.want(t, "right password 1ms before the lock ends", "login", 1001, "S3cret!pw", ccgw.RetAccountLocked)
	e.fc.Advance(time.Millisecond)
	if e.fc.Now().Sub(lockedAt) != tLockPolicy.Duration {
		t.Fatal("clock arithmetic")
	}
	e.want(t, "right password when the lock ends", "login", 1001, "S3cret!pw", ccgw.RetOK)
	// The success forgot the count: 4 more wrong passwords do not lock.
	for i := range 4 {
		e.want(t, fmt.Sprintf("wrong password %d after the lock", i+1), "login", 1001, "wrong", ccgw.RetBadPassword)
	}
	e.want(t, "right password after 4 wrong", "login", 1001, "S3cret!pw", ccgw.RetOK)
	if f, _ := e.st.LoginFailures(context.Background(), 1001); f != (ccgw.LoginFailures{}) {
		t.Fatalf("record after a right password: %+v, want none", f)
	}
}

// TestSignInLockoutWindow: wrong passwords spread wider than the window never
// lock: the 5th comes when the window of the 1st is over.
func TestSignInLockoutWindow(t *testing.T) {
	e := tLockOpen(t, t.TempDir(), clock.NewVirtual(tFileStart), tFileDirectory(t), tLockPolicy)
	for i := range 4 {
		e.want(t, fmt.Sprintf("wrong password %d", i+1), "login", 1001, "wrong", ccgw.RetBadPassword)
		e.fc.Advance(time.Minute + 15*time.Second)
	}
	e.want(t, "5th wrong password, 5m after the 1st", "login", 1001, "wrong", ccgw.RetBadPassword)
	e.want(t, "right password", "login", 1001, "S3cret!pw", ccgw.RetOK)
}

// TestSignInLockoutSurvivesRestart: a lock counted in bbolt holds after the
// store is closed and opened again by a new Manager, until it ends.
func TestSignInLockoutSurvivesRestart(t *testing.T) {
	data := t.TempDir()
	fc := clock.NewVirtual(tFileStart)
	e := tLockOpen(t, data, fc, tFileDirectory(t), tLockPolicy)
	for range 4 {
		e.want(t, "wrong password", "login", 1001, "wrong", ccgw.RetBadPassword)
	}
	e.want(t, "5th wrong password", "login", 1001, "wrong", ccgw.RetAccountLocked)
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	fc.Advance(time.Minute)
	e2 := tLockOpen(t, data, fc, tFileDirectory(t), tLockPolicy)
	e2.want(t, "right password after the restart", "login", 1001, "S3cret!pw", ccgw.RetAccountLocked)
	fc.Advance(tLockPolicy.Duration - time.Minute)
	e2.want(t, "right password when the lock ends", "login", 1001, "S3cret!pw", ccgw.RetOK)
}

// TestSignInLockedCostsNoHash: once an agent is locked, a flood of sign-ins
// (right or wrong) derives no password hash and writes no count: each is one
// read of the lockout record. Before, each non-empty password costs exactly one
// hash, whether the agent exists, changed its password or not.
func TestSignInLockedCostsNoHash(t *testing.T) {
	dir := tFileDirectory(t)
	e := tLockOpen(t, t.TempDir(), clock.NewVirtual(tFileStart), dir, tLockPolicy)
	for i := range 5 {
		before := dir.Hashes()
		e.signIn(t, "login", 1001, "wrong")
		if n := dir.Hashes() - before; n != 1 {
			t.Fatalf("wrong password %d derived %d hashes, want 1", i+1, n)
		}
	}
	before := dir.Hashes()
	for i := range 1000 {
		pw := "S3cret!pw"
		if i%2 == 1 {
			pw = fmt.Sprintf("guess%d", i)
		}
		e.want(t, "sign-in while locked", "login", 1001, pw, ccgw.RetAccountLocked)
	}
	if n := dir.Hashes() - before; n != 0 {
		t.Fatalf("1000 sign-ins of a locked agent derived %d hashes, want 0", n)
	}
	if f, _ := e.st.LoginFailures(context.Background(), 1001); f.Count != 0 || !f.Locked(e.fc.Now()) {
		t.Fatalf("record %+v: the refused sign-ins were counted", f)
	}
}

// TestSignInEmptyPassword: an empty password never matches a configured or
// changed one, on every sign-in interface; it is refused without hashing and
// never counts toward a lock (it is not a guess). With the built-in directory
// an agent whose password was never changed signs in with any password, the
// empty one included.
func TestSignInEmptyPassword(t *testing.T) {
	dir := tFileDirectory(t)
	e := tLockOpen(t, t.TempDir(), clock.NewVirtual(tFileStart), dir, tLockPolicy)
	before := dir.Hashes()
	for i := range 20 {
		op := []string{"login", "forceLogin", "loginEx"}[i%3]
		e.want(t, op+" with an empty password", op, 1001, "", ccgw.RetBadPassword)
		e.want(t, op+" with an empty password, agent not in the file", op, 1003, "", ccgw.RetBadPassword)
	}
	if n := dir.Hashes() - before; n != 0 {
		t.Errorf("empty passwords derived %d hashes, want 0", n)
	}
	if f, _ := e.st.LoginFailures(context.Background(), 1001); f != (ccgw.LoginFailures{}) {
		t.Errorf("empty passwords counted: %+v", f)
	}
	e.want(t, "right password after 20 empty ones", "login", 1001, "S3cret!pw", ccgw.RetOK)

	open := tLockOpen(t, t.TempDir(), clock.NewVirtual(tFileStart), agent.Default(), tLockPolicy)
	open.want(t, "built-in directory, empty password", "loginEx", 4001, "", ccgw.RetOK)
	if err := open.dir.SetPassword(4001, "Gr8!Pass"); err != nil {
		t.Fatal(err)
	}
	open.want(t, "built-in directory, changed password, empty", "loginEx", 4001, "", ccgw.RetBadPassword)
	open.want(t, "built-in directory, changed password", "loginEx", 4001, "Gr8!Pass", ccgw.RetOK)
}

// TestSignInLockoutOff: with the zero policy (--lockout-attempts 0) wrong
// passwords never lock, and nothing is counted.
func TestSignInLockoutOff(t *testing.T) {
	e := tLockOpen(t, t.TempDir(), clock.NewVirtual(tFileStart), tFileDirectory(t), ccgw.LockoutPolicy{})
	for range 50 {
		e.want(t, "wrong password", "login", 1001, "wrong", ccgw.RetBadPassword)
	}
	e.want(t, "right password", "login", 1001, "S3cret!pw", ccgw.RetOK)
	if f, _ := e.st.LoginFailures(context.Background(), 1001); f != (ccgw.LoginFailures{}) {
		t.Errorf("counted with the lockout off: %+v", f)
	}
}

// TestSignInUnknownAgentCounts: an agent not in the --agents file is counted and
// locked like a listed one, so that the answers do not tell which work numbers
// exist.
func TestSignInUnknownAgentCounts(t *testing.T) {
	e := tLockOpen(t, t.TempDir(), clock.NewVirtual(tFileStart), tFileDirectory(t), tLockPolicy)
	for range 4 {
		e.want(t, "unknown agent", "login", 1003, "x", ccgw.RetBadPassword)
	}
	e.want(t, "5th try of an unknown agent", "login", 1003, "x", ccgw.RetAccountLocked)
}

// raceStore is a LockoutStore whose agent gets locked between a sign-in's check
// and its clear (as by another node's wrong passwords at the same moment).
type raceStore struct{ *guard.MemLockouts }

func (r raceStore) ClearLoginFailures(ctx context.Context, id ccgw.AgentID, now time.Time) (ccgw.LoginFailures, error) {
	return ccgw.LoginFailures{Until: now.Add(time.Minute)}, nil
}

// failingStore is a LockoutStore that cannot be reached.
type failingStore struct{}

func (failingStore) LoginFailures(context.Context, ccgw.AgentID) (ccgw.LoginFailures, error) {
	return ccgw.LoginFailures{}, errors.New("down")
}
func (failingStore) AddLoginFailure(context.Context, ccgw.AgentID, time.Time, ccgw.LockoutPolicy) (ccgw.LoginFailures, error) {
	return ccgw.LoginFailures{}, errors.New("down")
}
func (failingStore) ClearLoginFailures(context.Context, ccgw.AgentID, time.Time) (ccgw.LoginFailures, error) {
	return ccgw.LoginFailures{}, errors.New("down")
}

// TestGuardEdges: a right password whose agent was locked while it was being
// checked is refused (so concurrent guesses get no more than the policy's
// attempts); a lockout store that cannot be reached is a system error, never a
// sign-in.
func TestGuardEdges(t *testing.T) {
	fc := clock.NewVirtual(tFileStart)
	g := guard.Guard{Directory: tFileDirectory(t), Policy: tLockPolicy, Store: raceStore{guard.NewMemLockouts()},
		Clock: fc, Log: slog.New(slog.DiscardHandler)}
	if got := ccgw.CodeOf(g.Check(context.Background(), "login", 1001, "S3cret!pw")); got != ccgw.RetAccountLocked {
		t.Errorf("right password, locked meanwhile: %s, want %s", got, ccgw.RetAccountLocked)
	}
	g.Store = failingStore{}
	for _, pw := range []string{"S3cret!pw", "wrong"} {
		err := g.Check(context.Background(), "login", 1001, pw)
		var e *ccgw.Error
		if !errors.As(err, &e) || e.Code != ccgw.RetInternal || e.Op != "login" {
			t.Errorf("store down, password %q: %#v, want 100-007 with Op login", pw, err)
		}
	}
}

// BenchmarkGuard is what the lockout adds to a password check: with the
// policy on, a read of the agent's record before and, after a right password,
// a second read (bbolt writes only if there was a record). Directory: an
// --agents file (one PBKDF2 hash per check) on a bolt store.
func BenchmarkGuard(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    ccgw.LockoutPolicy
	}{{"lockout=off", ccgw.LockoutPolicy{}}, {"lockout=on", tLockPolicy}} {
		b.Run(bc.name, func(b *testing.B) {
			st, err := bolt.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			dir := tFileDirectory(b)
			dir.UsePasswords(st)
			g := guard.Guard{Directory: dir, Policy: bc.p, Store: st, Clock: clock.NewVirtual(tFileStart), Log: slog.New(slog.DiscardHandler)}
			b.ReportAllocs()
			for b.Loop() {
				if err := g.Check(context.Background(), "login", 1001, "S3cret!pw"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestGuardChange: a password change's wrong old passwords count toward the
// lock (the 5th answers 110-016 and locks sign-in too); while locked the change
// does not even run; an empty old password and refusals of the new one are not
// counted; a change that succeeds forgets the count.
func TestGuardChange(t *testing.T) {
	dir := tFileDirectory(t)
	e := tLockOpen(t, t.TempDir(), clock.NewVirtual(tFileStart), dir, tLockPolicy)
	g := guard.Guard{Directory: dir, Policy: tLockPolicy, Store: e.st, Clock: e.fc, Log: slog.New(slog.DiscardHandler)}
	change := func(old, next string) ccgw.Retcode {
		return ccgw.CodeOf(g.Change(context.Background(), "modifyAccountPwdEx", 1001, old, func() error { return dir.ChangePassword(context.Background(), 1001, old, next) }))
	}
	for range 10 {
		if got := change("", "Gr8!Passw0rd"); got != ccgw.RetOldPasswordWrong {
			t.Fatalf("empty old password: %s", got)
		}
	}
	if got := change("S3cret!pw", "short"); got != ccgw.RetPwdLength {
		t.Fatalf("a refused new password: %s", got)
	}
	for i := range 4 {
		if got := change(fmt.Sprintf("wrong%d", i), "Gr8!Passw0rd"); got != ccgw.RetOldPasswordWrong {
			t.Fatalf("wrong old password %d: %s", i+1, got)
		}
	}
	if got := change("S3cret!pw", "Gr8!Passw0rd"); got != ccgw.RetOK {
		t.Fatalf("right old password after 4 wrong: %s", got)
	}
	if f, _ := e.st.LoginFailures(context.Background(), 1001); f != (ccgw.LoginFailures{}) {
		t.Fatalf("a successful change left %+v", f)
	}
	for i := range 4 {
		change(fmt.Sprintf("wrong%d", i), "N3w!Passw0rd")
	}
	if got := change("wrong5", "N3w!Passw0rd"); got != ccgw.RetAccountLocked {
		t.Fatalf("5th wrong old password: %s, want %s", got, ccgw.RetAccountLocked)
	}
	ran := false
	err := g.Change(context.Background(), "modifyAccountPwdEx", 1001, "Gr8!Passw0rd", func() error { ran = true; return nil })
	if ccgw.CodeOf(err) != ccgw.RetAccountLocked || ran {
		t.Fatalf("change while locked: %v, ran %v; want 110-016 and not run", err, ran)
	}
	e.want(t, "sign-in after the change's lock", "login", 1001, "Gr8!Passw0rd", ccgw.RetAccountLocked)
}
