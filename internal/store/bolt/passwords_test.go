package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/agent/passwordtest"
	"github.com/ccgw/ccgw/internal/session/lockouttest"
)

// TestPasswordStore runs the PasswordStore suite on bbolt.
func TestPasswordStore(t *testing.T) {
	passwordtest.Run(t, func(t *testing.T) ccgw.PasswordStore {
		s, _ := tSessOpen(t)
		return s
	})
}

// TestLockoutStore runs the LockoutStore suite on bbolt.
func TestLockoutStore(t *testing.T) {
	lockouttest.Run(t, func(t *testing.T) ccgw.LockoutStore {
		s, _ := tSessOpen(t)
		return s
	})
}

// TestLockoutSurvivesReopen: a lock is on disk once AddLoginFailure returns; a
// closed store fails, never reads as "not locked".
func TestLockoutSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := lockouttest.Start
	var f ccgw.LoginFailures
	for range lockouttest.Policy.Attempts {
		if f, err = s.AddLoginFailure(context.Background(), 1001, now, lockouttest.Policy); err != nil {
			t.Fatal(err)
		}
	}
	if !f.Locked(now) {
		t.Fatalf("%+v: not locked", f)
	}
	s.Close()
	if _, err := s.LoginFailures(context.Background(), 1001); err == nil {
		t.Error("LoginFailures on a closed store: no error")
	}
	if _, err := s.AddLoginFailure(context.Background(), 1001, now, lockouttest.Policy); err == nil {
		t.Error("AddLoginFailure on a closed store: no error")
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, err := s2.LoginFailures(context.Background(), 1001); err != nil || got != f {
		t.Fatalf("after reopen: %+v, %v; want %+v", got, err, f)
	}
}

// TestPasswordSurvivesReopen changes a password through a directory on the
// store, closes it and opens the data directory again: a fresh directory on the
// reopened store signs in with the new password only, and still refuses the
// replaced one as a new password (history). A closed store fails; it never
// reads as "no change".
func TestPasswordSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := agent.Default()
	d.UsePasswords(s)
	if err := d.ChangePassword(context.Background(), 1001, "anything", "Gr8!Pass"); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if err := d.ChangePassword(context.Background(), 1001, "Gr8!Pass", "N3w!Pass"); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	s.Close()
	if got := ccgw.CodeOf(d.VerifyPassword(context.Background(), 1001, "N3w!Pass")); got != ccgw.RetInternal {
		t.Errorf("sign-in on a closed store: %s, want %s", got, ccgw.RetInternal)
	}
	if _, err := s.SwapPassword(context.Background(), 1001, nil, []byte("x")); err == nil {
		t.Error("SwapPassword on a closed store: no error")
	}

	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	d2 := agent.Default()
	d2.UsePasswords(s2)
	for pw, want := range map[string]ccgw.Retcode{"N3w!Pass": ccgw.RetOK, "Gr8!Pass": ccgw.RetBadPassword, "anything": ccgw.RetBadPassword} {
		if got := ccgw.CodeOf(d2.VerifyPassword(context.Background(), 1001, pw)); got != want {
			t.Errorf("after reopen, %q: %s, want %s", pw, got, want)
		}
	}
	if got := ccgw.CodeOf(d2.ChangePassword(context.Background(), 1001, "N3w!Pass", "Gr8!Pass")); got != ccgw.RetPwdRule {
		t.Errorf("after reopen, back to the previous password: %s, want %s (one of the last 5)", got, ccgw.RetPwdRule)
	}
	raw, err := s2.Password(context.Background(), 1001)
	if err != nil || raw == nil || bytes.Contains(raw, []byte("N3w!Pass")) || bytes.Contains(raw, []byte("Gr8!Pass")) {
		t.Errorf("stored record %q (%v): want hashes only", raw, err)
	}
}

// BenchmarkVerifyPassword is the cost a sign-in pays for the password check on
// the bolt store: one read transaction and one PBKDF2 hash, whether the agent
// changed its password or not, exists or not, and the password is right or
// wrong (agent.TestCheckWorkIsEqual counts the hashes; this times them). An
// unchanged agent of the built-in directory has no secret: a read only.
func BenchmarkVerifyPassword(b *testing.B) {
	s, _ := tSessOpen(b)
	d := agent.Default()
	d.UsePasswords(s)
	if err := d.ChangePassword(context.Background(), 1001, "anything", "Gr8!Pass"); err != nil {
		b.Fatal(err)
	}
	var f agent.File
	if err := json.Unmarshal([]byte(`{"agents": [{"workNo": "1002", "password": "S3cret!pw"}]}`), &f); err != nil {
		b.Fatal(err)
	}
	fd, err := agent.FromFile(f)
	if err != nil {
		b.Fatal(err)
	}
	fd.UsePasswords(s)
	for _, bc := range []struct {
		name string
		d    *agent.Directory
		id   ccgw.AgentID
		pw   string
		ok   bool
	}{
		{"unchanged", d, 1002, "anything", true},
		{"changed", d, 1001, "Gr8!Pass", true},
		{"changed-wrong", d, 1001, "guess", false},
		{"file-right", fd, 1002, "S3cret!pw", true},
		{"file-wrong", fd, 1002, "guess", false},
		{"file-unknown", fd, 1003, "guess", false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.d.VerifyPassword(context.Background(), bc.id, bc.pw); (err == nil) != bc.ok {
					b.Fatal(err)
				}
			}
		})
	}
}
