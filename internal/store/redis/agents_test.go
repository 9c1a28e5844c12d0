package redis

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/redistest"
	"github.com/ccgw/ccgw/internal/store/sharedtest"
	goredis "github.com/redis/go-redis/v9"
)

// TestPrepare: sessions an earlier version signed in, with no live index,
// are listed once Prepare built it from the deadline and simulated sets; it
// builds once per store.
func TestPrepare(t *testing.T) {
	srv := redistest.Start(t)
	prefix := newPrefix()
	st := open(t, srv, prefix, "")
	ctx := context.Background()
	for _, id := range []ccgw.AgentID{1003, 1001, 1002} {
		sharedtest.SignIn(t, st, id, 1, 50_000)
	}
	sharedtest.SignInSimulated(t, st, 1004, 1)
	want := []ccgw.AgentID{1001, 1002, 1003, 1004}
	if got := sharedtest.LiveIDs(t, st, 10); !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	rdb := client(t, srv)
	if err := rdb.Del(ctx, prefix+"live").Err(); err != nil { // as an earlier version left it
		t.Fatal(err)
	}
	if got := sharedtest.LiveIDs(t, st, 10); len(got) != 0 {
		t.Fatalf("listed %v without an index", got)
	}
	wantOK(t, "Prepare", st.Prepare(ctx))
	if got := sharedtest.LiveIDs(t, st, 10); !slices.Equal(got, want) {
		t.Fatalf("after Prepare: %v, want %v", got, want)
	}
	// Once: a second build (another node, a restart) does not bring back a
	// session that has ended meanwhile.
	if err := rdb.ZAdd(ctx, prefix+"dl", goredis.Z{Score: 1, Member: "9999"}).Err(); err != nil {
		t.Fatal(err)
	}
	wantOK(t, "Prepare again", st.Prepare(ctx))
	if n, err := rdb.ZScore(ctx, prefix+"live", "9999").Result(); err == nil {
		t.Fatalf("built twice: 9999 listed with %v", n)
	}
}

// TestClients: Clients reads the live index a batch at a time: any batch
// size gives the clients' sessions in order, the simulated call centre's
// left out (the suite checks Clients itself).
func TestClients(t *testing.T) {
	srv := redistest.Start(t)
	st := open(t, srv, newPrefix(), "")
	ctx := context.Background()
	for _, id := range []ccgw.AgentID{1005, 1001, 1003, 1002, 1006} {
		sharedtest.SignIn(t, st, id, 1, 50_000)
	}
	sharedtest.SignInSimulated(t, st, 1004, 1)
	_, err := st.End(ctx, ccgw.SharedEnd{ID: 1006, Gen: 1, Cause: ccgw.CauseSupervisor, KeepFor: time.Minute,
		Ending: sharedtest.Ending(1006, 1, 60_000)})
	wantOK(t, "end 1006", err)
	want := []ccgw.AgentID{1001, 1002, 1003, 1005}
	for _, batch := range []int{1, 2, 3, 4, 100} {
		got, err := st.clients(ctx, batch)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("batches of %d: %v, %v; want %v", batch, got, err, want)
		}
	}
}
