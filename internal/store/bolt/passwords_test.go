package bolt

import (
	"bytes"
	"testing"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/agent/passwordtest"
)

// TestPasswordStore runs the PasswordStore suite on bbolt.
func TestPasswordStore(t *testing.T) {
	passwordtest.Run(t, func(t *testing.T) ccgw.PasswordStore {
		s, _ := tSessOpen(t)
		return s
	})
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
	if err := d.ChangePassword(1001, "anything", "Gr8!Pass"); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if err := d.ChangePassword(1001, "Gr8!Pass", "N3w!Pass"); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	s.Close()
	if got := ccgw.CodeOf(d.VerifyPassword(1001, "N3w!Pass")); got != ccgw.RetInternal {
		t.Errorf("sign-in on a closed store: %s, want %s", got, ccgw.RetInternal)
	}
	if _, err := s.SwapPassword(1001, nil, []byte("x")); err == nil {
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
		if got := ccgw.CodeOf(d2.VerifyPassword(1001, pw)); got != want {
			t.Errorf("after reopen, %q: %s, want %s", pw, got, want)
		}
	}
	if got := ccgw.CodeOf(d2.ChangePassword(1001, "N3w!Pass", "Gr8!Pass")); got != ccgw.RetPwdRule {
		t.Errorf("after reopen, back to the previous password: %s, want %s (one of the last 5)", got, ccgw.RetPwdRule)
	}
	raw, err := s2.Password(1001)
	if err != nil || raw == nil || bytes.Contains(raw, []byte("N3w!Pass")) || bytes.Contains(raw, []byte("Gr8!Pass")) {
		t.Errorf("stored record %q (%v): want hashes only", raw, err)
	}
}

// BenchmarkVerifyPassword is the cost a sign-in pays for the password check on
// the bolt store: a read transaction when the agent never changed its password,
// plus one PBKDF2 hash when it did.
func BenchmarkVerifyPassword(b *testing.B) {
	s, _ := tSessOpen(b)
	d := agent.Default()
	d.UsePasswords(s)
	if err := d.ChangePassword(1001, "anything", "Gr8!Pass"); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		id   ccgw.AgentID
		pw   string
	}{{"unchanged", 1002, "anything"}, {"changed", 1001, "Gr8!Pass"}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := d.VerifyPassword(bc.id, bc.pw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
