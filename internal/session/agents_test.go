package session

import (
	"context"
	"slices"
	"testing"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/redistest"
	"github.com/ccgw/ccgw/internal/session/sessiontest"
	goredis "github.com/redis/go-redis/v9"
)

// TestBuildLive: sessions an earlier ccgw signed in, with no live index, are
// listed once the index is built from the deadline and simulated sets; the
// build runs once per Redis.
func TestBuildLive(t *testing.T) {
	srv := redistest.Start(t)
	prefix := newPrefix()
	st := open(t, srv, prefix, sessiontest.DefaultConfig(sessiontest.NewLogs()), nil)
	ctx := context.Background()
	for _, id := range []ccgw.AgentID{1003, 1001, 1002} {
		if _, err := st.SignIn(ctx, sessiontest.SignInReq(id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.SignIn(ctx, sessiontest.SimulatedReq(1004)); err != nil {
		t.Fatal(err)
	}
	ids := func() []ccgw.AgentID {
		page, _ := st.Agents(ctx, 0, 10)
		var out []ccgw.AgentID
		for _, x := range page {
			out = append(out, x.Session.Agent)
		}
		return out
	}
	want := []ccgw.AgentID{1001, 1002, 1003, 1004}
	if got := ids(); !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	rdb := client(t, srv)
	if err := rdb.Del(ctx, prefix+"live").Err(); err != nil { // as an earlier ccgw left it
		t.Fatal(err)
	}
	if got := ids(); len(got) != 0 {
		t.Fatalf("listed %v without an index", got)
	}
	if err := st.db.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ids(); !slices.Equal(got, want) {
		t.Fatalf("after the build: %v, want %v", got, want)
	}
	// Once: a second build (another node, a restart) does not bring back a
	// session that has ended meanwhile.
	if err := rdb.ZAdd(ctx, prefix+"dl", goredis.Z{Score: 1, Member: "9999"}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := st.db.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.ZScore(ctx, prefix+"live", "9999").Result(); err == nil {
		t.Fatalf("built twice: 9999 listed with %v", n)
	}
}

// TestClients: the work numbers of the clients' sessions, in order, read from
// the live index, the simulated call centre's left out (the store's own tests
// read it a batch at a time).
func TestClients(t *testing.T) {
	srv := redistest.Start(t)
	st := open(t, srv, newPrefix(), sessiontest.DefaultConfig(sessiontest.NewLogs()), nil)
	ctx := context.Background()
	for _, id := range []ccgw.AgentID{1005, 1001, 1003, 1002, 1006} {
		if _, err := st.SignIn(ctx, sessiontest.SignInReq(id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.SignIn(ctx, sessiontest.SimulatedReq(1004)); err != nil {
		t.Fatal(err)
	}
	if err := st.Kick(ctx, 1006, ccgw.CauseSupervisor); err != nil {
		t.Fatal(err)
	}
	want := []ccgw.AgentID{1001, 1002, 1003, 1005}
	if got := st.Clients(ctx); !slices.Equal(got, want) {
		t.Errorf("Clients: %v, want %v", got, want)
	}
}
