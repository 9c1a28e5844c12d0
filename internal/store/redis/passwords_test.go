package redis

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/agent/passwordtest"
	"github.com/ccgw/ccgw/internal/redistest"
)

// TestPasswordStore runs the PasswordStore suite on a real redis-server.
func TestPasswordStore(t *testing.T) {
	srv := redistest.Start(t)
	passwordtest.Run(t, func(t *testing.T) ccgw.PasswordStore {
		return open(t, srv, newPrefix(), "")
	})
}

// TestPasswordAcrossNodes: two nodes on one Redis, each with its own directory
// on its own Store. A password changed through node A is accepted on node B at
// once and the old one is refused (100-004); Redis holds hashes only. While
// Redis is down a check is a system error (100-007), never a wrong password;
// once it is back the new password is accepted again.
func TestPasswordAcrossNodes(t *testing.T) {
	p := newPair(t)
	dirA, dirB := agent.Default(), agent.Default()
	dirA.UsePasswords(p.a)
	dirB.UsePasswords(p.b)
	const id = 5001
	login := func(dir *agent.Directory, pw string) error {
		return ccgw.VerifyPassword(context.Background(), dir, "login", id, pw)
	}
	if err := dirA.ChangePassword(context.Background(), id, "anything", "Gr8!Pass"); err != nil {
		t.Fatalf("change on A: %v", err)
	}
	wantCodeT(t, "old password on B", login(dirB, "anything"), ccgw.RetBadPassword)
	wantOK(t, "new password on B", login(dirB, "Gr8!Pass"))
	// B's rules see the history A wrote.
	wantCodeT(t, "change on B back to the first password", dirB.ChangePassword(context.Background(), id, "Gr8!Pass", "anything"), ccgw.RetPwdRule)
	wantOK(t, "change on B", dirB.ChangePassword(context.Background(), id, "Gr8!Pass", "N3w!Pass"))
	wantCodeT(t, "A's password on A after B's change", login(dirA, "Gr8!Pass"), ccgw.RetBadPassword)

	raw, err := client(t, p.srv).HGet(context.Background(), p.a.key+"pw", fmt.Sprint(id)).Bytes()
	if err != nil || !bytes.Contains(raw, []byte(`"pbkdf2-sha256"`)) {
		t.Fatalf("HGET %spw %d: %q, %v", p.a.key, id, raw, err)
	}
	for _, pw := range []string{"anything", "Gr8!Pass", "N3w!Pass"} {
		if bytes.Contains(raw, []byte(pw)) {
			t.Errorf("Redis holds the password %q: %s", pw, raw)
		}
	}

	p.srv.Stop()
	wantCodeT(t, "the new password, Redis down", login(dirB, "N3w!Pass"), ccgw.RetInternal)
	wantCodeT(t, "a wrong password, Redis down", login(dirB, "wrong"), ccgw.RetInternal)
	wantCodeT(t, "change, Redis down", dirB.ChangePassword(context.Background(), id, "N3w!Pass", "Oth3r!pw"), ccgw.RetInternal)
	p.srv.Restart()
	checkFor(t, 10*time.Second, func() error {
		if err := login(dirA, "N3w!Pass"); err != nil {
			return fmt.Errorf("new password after Redis came back: %w", err)
		}
		return nil
	})
}
