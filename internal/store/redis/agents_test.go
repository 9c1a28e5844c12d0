package redis

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// liveIDs returns the work numbers of the pages Live returns, limit at a
// time, and fails t if a page says more follow wrongly.
func liveIDs(t *testing.T, st *Store, limit int) []ccgw.AgentID {
	t.Helper()
	var out []ccgw.AgentID
	after := ccgw.AgentID(0)
	for {
		page, more, err := st.Live(context.Background(), after, limit)
		wantOK(t, "Live", err)
		for _, x := range page {
			var sess ccgw.Session
			if err := json.Unmarshal([]byte(x.Record), &sess); err != nil {
				t.Fatalf("Live record %q: %v", x.Record, err)
			}
			out = append(out, sess.Agent)
			after = sess.Agent
		}
		if !more {
			return out
		}
		if len(page) == 0 {
			t.Fatal("Live: an empty page with more to follow")
		}
	}
}

// TestLive: the live sessions in work-number order, a page at a time, with
// their deadlines (none for a simulated one) and queue lengths; an ended
// session is left out.
func TestLive(t *testing.T) {
	srv := redistest.Start(t)
	st := open(t, srv, newPrefix(), "")
	ctx := context.Background()
	for _, id := range []ccgw.AgentID{1003, 1001, 1002, 1006} {
		signIn(t, st, id, uint64(id), 50_000+int64(id), ccgw.EvInService, ccgw.EvReady)
	}
	signInSimulated(t, st, 1004, 1)
	_, err := st.End(ctx, ccgw.SharedEnd{ID: 1006, Gen: 1006, Cause: ccgw.CauseSupervisor, KeepFor: time.Minute,
		Ending: ending(1006, 1006, 60_000)})
	wantOK(t, "end 1006", err)
	want := []ccgw.AgentID{1001, 1002, 1003, 1004}
	for _, limit := range []int{1, 2, 3, 4, 100} {
		if got := liveIDs(t, st, limit); !slices.Equal(got, want) {
			t.Errorf("pages of %d: %v, want %v", limit, got, want)
		}
	}
	page, more, err := st.Live(ctx, 1001, 2)
	wantOK(t, "Live after 1001", err)
	if !more || len(page) != 2 {
		t.Fatalf("Live after 1001, 2: %d sessions, more %v; want 2, true", len(page), more)
	}
	if page[0].Deadline != 51_002 || page[0].Queued != 2 {
		t.Errorf("1002: deadline %d, queued %d; want 51002, 2", page[0].Deadline, page[0].Queued)
	}
	if page, _, _ := st.Live(ctx, 1003, 1); len(page) != 1 || page[0].Deadline != 0 || page[0].Queued != 0 {
		t.Errorf("simulated 1004: %+v; want no deadline, nothing queued", page)
	}
	if page, more, err := st.Live(ctx, 0, 0); page != nil || more || err != nil {
		t.Errorf("Live with limit 0: %v, %v, %v", page, more, err)
	}
}

// TestPrepare: sessions an earlier version signed in, with no live index,
// are listed once Prepare built it from the deadline and simulated sets; it
// builds once per store.
func TestPrepare(t *testing.T) {
	srv := redistest.Start(t)
	prefix := newPrefix()
	st := open(t, srv, prefix, "")
	ctx := context.Background()
	for _, id := range []ccgw.AgentID{1003, 1001, 1002} {
		signIn(t, st, id, 1, 50_000)
	}
	signInSimulated(t, st, 1004, 1)
	want := []ccgw.AgentID{1001, 1002, 1003, 1004}
	if got := liveIDs(t, st, 10); !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	rdb := client(t, srv)
	if err := rdb.Del(ctx, prefix+"live").Err(); err != nil { // as an earlier version left it
		t.Fatal(err)
	}
	if got := liveIDs(t, st, 10); len(got) != 0 {
		t.Fatalf("listed %v without an index", got)
	}
	wantOK(t, "Prepare", st.Prepare(ctx))
	if got := liveIDs(t, st, 10); !slices.Equal(got, want) {
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

// TestClients: the work numbers of the clients' sessions, in order, read from
// the live index a batch at a time, the simulated call centre's left out.
func TestClients(t *testing.T) {
	srv := redistest.Start(t)
	st := open(t, srv, newPrefix(), "")
	ctx := context.Background()
	for _, id := range []ccgw.AgentID{1005, 1001, 1003, 1002, 1006} {
		signIn(t, st, id, 1, 50_000)
	}
	signInSimulated(t, st, 1004, 1)
	_, err := st.End(ctx, ccgw.SharedEnd{ID: 1006, Gen: 1, Cause: ccgw.CauseSupervisor, KeepFor: time.Minute,
		Ending: ending(1006, 1, 60_000)})
	wantOK(t, "end 1006", err)
	want := []ccgw.AgentID{1001, 1002, 1003, 1005}
	for _, batch := range []int{1, 2, 3, 4, 100} {
		got, err := st.clients(ctx, batch)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("batches of %d: %v, %v; want %v", batch, got, err, want)
		}
	}
	if got, err := st.Clients(ctx); err != nil || !slices.Equal(got, want) {
		t.Errorf("Clients: %v, %v; want %v", got, err, want)
	}
}
