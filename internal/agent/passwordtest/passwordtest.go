// Package passwordtest is the behaviour suite every ccgw.PasswordStore passes:
// agent.MemPasswords, the bbolt store and the Redis store run the same tests.
package passwordtest

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
)

// Run runs the suite; open returns an empty store for one test.
func Run(t *testing.T, open func(t *testing.T) ccgw.PasswordStore) {
	t.Run("SwapIsCompareAndSet", func(t *testing.T) { testSwap(t, open(t)) })
	t.Run("OneOfConcurrentSwapsWins", func(t *testing.T) { testConcurrentSwaps(t, open(t)) })
	t.Run("Directory", func(t *testing.T) { testDirectory(t, open(t)) })
}

func get(t *testing.T, s ccgw.PasswordStore, id ccgw.AgentID) []byte {
	t.Helper()
	b, err := s.Password(context.Background(), id)
	if err != nil {
		t.Fatalf("Password(%d): %v", id, err)
	}
	return b
}

func swap(t *testing.T, s ccgw.PasswordStore, id ccgw.AgentID, old, rec string, want bool) {
	t.Helper()
	var o []byte
	if old != "" {
		o = []byte(old)
	}
	ok, err := s.SwapPassword(context.Background(), id, o, []byte(rec))
	if err != nil {
		t.Fatalf("SwapPassword(%d, %q, %q): %v", id, old, rec, err)
	}
	if ok != want {
		t.Fatalf("SwapPassword(%d, %q, %q) = %v, want %v", id, old, rec, ok, want)
	}
}

// testSwap: no record reads nil; a swap happens only from the stored record
// (none: nil), and touches only its agent.
func testSwap(t *testing.T, s ccgw.PasswordStore) {
	if b := get(t, s, 1001); b != nil {
		t.Fatalf("empty store: record %q, want nil", b)
	}
	swap(t, s, 1001, "rec0", "rec1", false) // there is none
	swap(t, s, 1001, "", "rec1", true)
	if b := get(t, s, 1001); string(b) != "rec1" {
		t.Fatalf("record %q, want rec1", b)
	}
	swap(t, s, 1001, "", "rec2", false) // stale: rec1 is there
	swap(t, s, 1001, "rec2", "rec2", false)
	swap(t, s, 1001, "rec1", "rec2", true)
	if b := get(t, s, 1001); string(b) != "rec2" {
		t.Fatalf("record %q, want rec2", b)
	}
	if b := get(t, s, 1002); b != nil {
		t.Fatalf("agent 1002: record %q, want nil", b)
	}
	// Records are bytes, not text.
	bin := []byte{0, 1, 0xff, '\n', '"'}
	if ok, err := s.SwapPassword(context.Background(), 1003, nil, bin); !ok || err != nil {
		t.Fatalf("binary record: %v, %v", ok, err)
	}
	if b := get(t, s, 1003); !bytes.Equal(b, bin) {
		t.Fatalf("binary record read back as %q", b)
	}
}

// testConcurrentSwaps: of swaps racing from the same record, exactly one wins.
func testConcurrentSwaps(t *testing.T, s ccgw.PasswordStore) {
	const n = 16
	var wg sync.WaitGroup
	wins := make([]bool, n)
	for i := range n {
		wg.Go(func() {
			ok, err := s.SwapPassword(context.Background(), 2001, nil, []byte{'r', byte('a' + i)})
			if err != nil {
				t.Errorf("swap %d: %v", i, err)
			}
			wins[i] = ok
		})
	}
	wg.Wait()
	won := 0
	for i, ok := range wins {
		if ok {
			won++
			if b := get(t, s, 2001); !bytes.Equal(b, []byte{'r', byte('a' + i)}) {
				t.Errorf("swap %d won but the record is %q", i, b)
			}
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d racing swaps won, want 1", won, n)
	}
}

// testDirectory: a directory on the store keeps a change in it, and a second
// directory on the same store (another node, or the next process) signs in
// with the new password only.
func testDirectory(t *testing.T, s ccgw.PasswordStore) {
	a := agent.Default()
	a.UsePasswords(s)
	if err := a.ChangePassword(context.Background(), 3001, "anything", "Gr8!Pass"); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	b := agent.Default()
	b.UsePasswords(s)
	if err := b.VerifyPassword(context.Background(), 3001, "Gr8!Pass"); err != nil {
		t.Errorf("the new password: %v", err)
	}
	if got := ccgw.CodeOf(b.VerifyPassword(context.Background(), 3001, "anything")); got != ccgw.RetBadPassword {
		t.Errorf("the old password: %s, want %s", got, ccgw.RetBadPassword)
	}
	if err := b.VerifyPassword(context.Background(), 3002, "anything"); err != nil {
		t.Errorf("another agent: %v", err)
	}
	if b := get(t, s, 3001); bytes.Contains(b, []byte("Gr8!Pass")) {
		t.Errorf("the store holds the password: %s", b)
	}
}
