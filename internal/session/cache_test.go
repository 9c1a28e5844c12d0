package session

import (
	"context"
	"fmt"
	"hash/maphash"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/session/sessiontest"
)

// The tests of the nodes' caches of auth facts (cache.go) and of rotated
// GUIDs across nodes (guids.go), on the clusters of fast_test.go.

// waitFor polls cond (real time: another goroutine applies the messages)
// without moving the fake clock.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	checkFor(t, 30*time.Second, func() error {
		if !cond() {
			return fmt.Errorf("%s", what)
		}
		return nil
	})
}

// TestCacheInvalidation: what one node changes is seen by another node's
// next heartbeat as soon as the message arrives, with no tick passing: the
// old GUID refused with the right retcode.
func TestCacheInvalidation(t *testing.T) {
	c := newCluster(t, 2, 10*time.Second, nil)
	a, b := c.nodes[0], c.nodes[1]
	// warm signs id in on A and has B serve it from its cache.
	warm := func(id ccgw.AgentID) ccgw.Session {
		t.Helper()
		s, err := a.SignIn(context.Background(), sessiontest.SignInReq(id))
		wantOK(t, "sign in", err)
		_, err = b.Heartbeat(context.Background(), id, s.GUID, "")
		wantOK(t, "first heartbeat on B", err)
		before := c.commands()
		_, err = b.Heartbeat(context.Background(), id, s.GUID, "")
		wantOK(t, "second heartbeat on B", err)
		if n := c.commands() - before; n != 0 {
			t.Fatalf("B's second heartbeat sent %d commands: not cached", n)
		}
		return s
	}
	gone := func(st *Service, id ccgw.AgentID, gen uint64) func() bool {
		return func() bool { e := st.cache.get(id); return e == nil || e.gen != gen }
	}

	t.Run("SignOut", func(t *testing.T) {
		s := warm(1001)
		wantOK(t, "logout on A", a.SignOut(context.Background(), 1001, s.GUID, ccgw.CauseLogout))
		waitFor(t, "B still caches the session", gone(b, 1001, s.Gen))
		_, err := b.Heartbeat(context.Background(), 1001, s.GUID, "")
		wantCodeT(t, "heartbeat on B after logout on A", err, ccgw.RetNotSignedIn)
	})
	t.Run("Kick", func(t *testing.T) {
		s := warm(1002)
		wantOK(t, "kick on A", a.Kick(context.Background(), 1002, ccgw.CauseSupervisor))
		waitFor(t, "B still caches the session", gone(b, 1002, s.Gen))
		_, err := b.Heartbeat(context.Background(), 1002, s.GUID, "")
		wantCodeT(t, "heartbeat on B after a kick on A", err, ccgw.RetNotSignedIn)
	})
	t.Run("ForcedSignIn", func(t *testing.T) {
		old := warm(1003)
		c.fc.Advance(time.Millisecond) // a new gen
		req := sessiontest.SignInReq(1003)
		req.Force = true
		cur, err := a.SignIn(context.Background(), req)
		wantOK(t, "forced sign-in on A", err)
		waitFor(t, "B still caches the replaced session", gone(b, 1003, old.Gen))
		_, err = b.Heartbeat(context.Background(), 1003, old.GUID, "")
		wantCodeT(t, "heartbeat on B with the replaced GUID", err, ccgw.RetNotSignedIn)
		_, err = b.Heartbeat(context.Background(), 1003, cur.GUID, "")
		wantOK(t, "heartbeat on B with the new GUID", err)
	})
	t.Run("UpdateGUID", func(t *testing.T) {
		s := warm(1004)
		g1, err := a.UpdateGUID(context.Background(), 1004, s.GUID)
		wantOK(t, "updateGuid on A", err)
		g2, err := a.UpdateGUID(context.Background(), 1004, g1)
		wantOK(t, "second updateGuid on A", err)
		waitFor(t, "B's entry not at rotation 2", func() bool { e := b.cache.get(1004); return e != nil && e.n == 2 })
		_, err = b.Heartbeat(context.Background(), 1004, s.GUID, "")
		wantCodeT(t, "heartbeat on B with a GUID two rotations old", err, ccgw.RetNoPermission)
		before := c.commands()
		if g, err := b.Heartbeat(context.Background(), 1004, g1, ""); err != nil || g != g2 {
			t.Fatalf("heartbeat on B with the previous GUID: %q, %v; want %q", g, err, g2)
		}
		if g, err := b.Heartbeat(context.Background(), 1004, g2, ""); err != nil || g != "" {
			t.Fatalf("heartbeat on B with the current GUID: %q, %v", g, err)
		}
		if n := c.commands() - before; n != 0 {
			t.Fatalf("%d commands for heartbeats B's cache knows to accept", n)
		}
	})
	t.Run("Token", func(t *testing.T) {
		s := warm(1005)
		_, err := a.Heartbeat(context.Background(), 1005, s.GUID, "tok-2")
		wantOK(t, "heartbeat with a new token on A", err)
		waitFor(t, "B still caches the old token", gone(b, 1005, s.Gen))
		before := c.commands()
		_, err = b.Heartbeat(context.Background(), 1005, s.GUID, "")
		wantOK(t, "heartbeat on B", err)
		if n := c.commands() - before; n != 1 {
			t.Fatalf("B's heartbeat after the token changed sent %d commands, want 1 (read again)", n)
		}
		if got, _ := b.Lookup(context.Background(), 1005); got.ServiceToken != "tok-2" {
			t.Fatalf("token %q", got.ServiceToken)
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		s := warm(1006)
		for range int(10*time.Second/c.cfg.Tick) + 2 { // the timeout and the claim's tick
			c.fc.Advance(c.cfg.Tick)
			a.Sweep(c.fc.Now()) // only A sweeps
		}
		waitFor(t, "B still caches the expired session", gone(b, 1006, s.Gen))
		_, err := b.Heartbeat(context.Background(), 1006, s.GUID, "")
		wantCodeT(t, "heartbeat on B after A's sweep expired it", err, ccgw.RetNotSignedIn)
	})
}

// TestCacheDroppedOnResubscribe: when a node's invalidations' subscription is
// lost its cache is dropped, and only used again once it has subscribed
// anew; a sign-out while it was away is not missed.
func TestCacheDroppedOnResubscribe(t *testing.T) {
	c := newCluster(t, 2, 10*time.Second, nil)
	a, b := c.nodes[0], c.nodes[1]
	guids := c.signIn(t, 1001, 2)
	for id, g := range guids {
		_, err := b.Heartbeat(context.Background(), id, g, "")
		wantOK(t, "heartbeat on B", err)
	}
	if n := b.cache.len(); n != 2 {
		t.Fatalf("B caches %d agents, want 2", n)
	}
	subs := b.authSubs.Load()
	rdb := client(t, c.srv)
	if err := rdb.ClientKillByFilter(context.Background(), "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	wantOK(t, "logout on A", a.SignOut(context.Background(), 1001, guids[1001], ccgw.CauseLogout))
	waitFor(t, "B has not subscribed again", func() bool { return b.authSubs.Load() > subs && b.cacheOn.Load() })
	if e := b.cache.get(1002); e != nil {
		t.Fatal("B kept a cache entry across losing its subscription")
	}
	_, err := b.Heartbeat(context.Background(), 1001, guids[1001], "")
	wantCodeT(t, "heartbeat on B of the agent signed out meanwhile", err, ccgw.RetNotSignedIn)
	// The first heartbeat after it reads the session again and fills the
	// cache. (The commands are counted with the nodes' background ones, a
	// health check now and then: at least one, the read.)
	before := c.commands()
	_, err = b.Heartbeat(context.Background(), 1002, guids[1002], "")
	wantOK(t, "heartbeat on B", err)
	if n := c.commands() - before; n < 1 {
		t.Fatalf("first heartbeat after the subscription came back sent %d commands, want the read", n)
	}
	if b.cache.get(1002) == nil {
		t.Fatal("the first heartbeat after the subscription came back did not fill the cache")
	}
}

// TestRotationAcrossNodesBeforeItIsRecorded: in dynamic mode a GUID rotated by
// a heartbeat on node A (recorded only at A's next tick) works at once on node
// B, in a heartbeat (recognised by its MAC, no command) and in a poll (which
// records it); after A's tick Redis holds it.
func TestRotationAcrossNodesBeforeItIsRecorded(t *testing.T) {
	c := newCluster(t, 2, 10*time.Second, func(cfg *Config) {
		cfg.AuthMode, cfg.GUIDInterval, cfg.GUIDTimeout = ccgw.AuthDynamic, 2*time.Second, 4*time.Second
	})
	a, b := c.nodes[0], c.nodes[1]
	if *a.guidKey.Load() == nil || string(*a.guidKey.Load()) != string(*b.guidKey.Load()) {
		t.Fatal("the nodes do not share one GUID key")
	}
	for _, id := range []ccgw.AgentID{1001, 1002} {
		s, err := a.SignIn(context.Background(), sessiontest.SignInReq(id))
		wantOK(t, "sign in", err)
		for _, st := range c.nodes {
			_, err := st.Heartbeat(context.Background(), id, s.GUID, "")
			wantOK(t, "heartbeat", err)
		}
		c.fc.Advance(2 * time.Second)
		g1, err := a.Heartbeat(context.Background(), id, s.GUID, "")
		if err != nil || g1 == "" || g1 == s.GUID {
			t.Fatalf("heartbeat on A after the interval: %q, %v; want a new GUID", g1, err)
		}
		if got, _ := a.Lookup(context.Background(), id); got.GUID != s.GUID {
			t.Fatal("the rotation was written at once, not at the tick")
		}
		if id == 1001 {
			before := c.commands()
			if g, err := b.Heartbeat(context.Background(), id, g1, ""); err != nil || g != "" {
				t.Fatalf("heartbeat on B with A's new GUID: %q, %v", g, err)
			}
			if n := c.commands() - before; n != 0 {
				t.Fatalf("B's heartbeat with A's new GUID sent %d commands", n)
			}
		} else {
			if ev, set, err := b.Poll(context.Background(), id, g1, 0); err != nil || set != "" || ev == nil {
				t.Fatalf("poll on B with A's new GUID: %+v, %q, %v", ev, set, err)
			}
		}
		c.tick()
		if got, _ := b.Lookup(context.Background(), id); got.GUID != g1 || got.PrevGUID != s.GUID {
			t.Fatalf("Redis after the tick: GUID %q, previous %q; want %q, %q", got.GUID, got.PrevGUID, g1, s.GUID)
		}
		if _, err := b.Session(context.Background(), id, s.GUID); err != nil {
			t.Fatalf("the superseded GUID within its grace: %v", err)
		}
	}
}

// TestQuickHeartbeat: the slot key answers a static session's current GUID
// without the entry, filing the deadline of the entry's mode; the previous
// GUID, a wrong one, a dropped entry and a changed mode are not answered
// there.
func TestQuickHeartbeat(t *testing.T) {
	var c authCache
	c.seed = maphash.MakeSeed()
	poll := func(m ccgw.Mode) int64 { return 1000 + int64(m) }
	if c.quick(1001, "g1", poll) {
		t.Fatal("an empty cache answered")
	}
	e := &authEntry{gen: 1, mode: ccgw.ModePush, prev: "g0", prevUntil: 1 << 62}
	e.setGUID("g1")
	c.fill(1001, c.epoch(1001), e)
	if !c.quick(1001, "g1", poll) {
		t.Fatal("the current GUID was not answered")
	}
	if ren := c.takeRenewals(nil); ren[1001] != 1000+int64(ccgw.ModePush) {
		t.Fatalf("renewals %v, want 1001 at the push mode's deadline", ren)
	}
	for _, g := range []string{"g0", "g2", "", "g1 "} {
		if c.quick(1001, g, poll) {
			t.Errorf("GUID %q answered", g)
		}
	}
	if c.quick(1002, "g1", poll) {
		t.Error("another agent answered with 1001's GUID")
	}
	poll2 := *e
	poll2.mode = ccgw.ModePoll
	poll2.setGUID("g1")
	if !c.replace(1001, e, &poll2) || !c.quick(1001, "g1", poll) {
		t.Fatal("the replaced entry was not answered")
	}
	if ren := c.takeRenewals(nil); ren[1001] != 1000+int64(ccgw.ModePoll) {
		t.Fatalf("renewals %v, want 1001 at the poll mode's deadline", ren)
	}
	c.drop(1001, 0)
	if c.quick(1001, "g1", poll) {
		t.Fatal("a dropped entry answered")
	}
}
