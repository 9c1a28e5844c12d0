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
	"github.com/ccgw/ccgw/internal/session/sessiontest"
)

// TestPasswordStore runs the PasswordStore suite on a real redis-server.
func TestPasswordStore(t *testing.T) {
	srv := redistest.Start(t)
	passwordtest.Run(t, func(t *testing.T) ccgw.PasswordStore {
		return open(t, srv, newPrefix(), sessiontest.DefaultConfig(sessiontest.NewLogs()), nil)
	})
}

// TestPasswordAcrossNodes: two nodes on one Redis, each with its own directory
// on its own Store. A password changed through node A signs in on node B at
// once and the old one is refused (100-004); Redis holds hashes only. While
// Redis is down a sign-in is a system error (100-007), never a wrong password;
// once it is back the new password signs in again.
func TestPasswordAcrossNodes(t *testing.T) {
	dirA, dirB := agent.Default(), agent.Default()
	p := newPair(t, func(c *Config) {
		if c.NodeName == "AgentGateway2" {
			c.Directory = dirB
		} else {
			c.Directory = dirA
		}
	})
	dirA.UsePasswords(p.a)
	dirB.UsePasswords(p.b)
	const id = 5001
	login := func(st *Store, pw string) error {
		_, err := st.SignIn(context.Background(), ccgw.SignIn{Op: "login", Password: pw, Status: ccgw.StateIdle, Session: ccgw.Session{Agent: id}})
		return err
	}
	if err := dirA.ChangePassword(context.Background(), id, "anything", "Gr8!Pass"); err != nil {
		t.Fatalf("change on A: %v", err)
	}
	wantCodeT(t, "old password on B", login(p.b, "anything"), ccgw.RetBadPassword)
	s, err := p.b.SignIn(context.Background(), ccgw.SignIn{Op: "login", Password: "Gr8!Pass", Status: ccgw.StateIdle, Session: ccgw.Session{Agent: id}})
	wantOK(t, "new password on B", err)
	wantOK(t, "logout", p.b.SignOut(context.Background(), id, s.GUID, ccgw.CauseLogout))
	// B's rules see the history A wrote.
	wantCodeT(t, "change on B back to the first password", dirB.ChangePassword(context.Background(), id, "Gr8!Pass", "anything"), ccgw.RetPwdRule)
	wantOK(t, "change on B", dirB.ChangePassword(context.Background(), id, "Gr8!Pass", "N3w!Pass"))
	wantCodeT(t, "A's password on A after B's change", login(p.a, "Gr8!Pass"), ccgw.RetBadPassword)

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
	wantCodeT(t, "sign in with the new password, Redis down", login(p.b, "N3w!Pass"), ccgw.RetInternal)
	wantCodeT(t, "sign in with a wrong password, Redis down", login(p.b, "wrong"), ccgw.RetInternal)
	wantCodeT(t, "change, Redis down", dirB.ChangePassword(context.Background(), id, "N3w!Pass", "Oth3r!pw"), ccgw.RetInternal)
	p.srv.Restart()
	checkFor(t, 10*time.Second, func() error {
		if err := login(p.a, "N3w!Pass"); err != nil {
			return fmt.Errorf("new password after Redis came back: %w", err)
		}
		return nil
	})
}
