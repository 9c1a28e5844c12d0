package sharedtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// testFeedEmpty: an empty store's feed ends at "0-0", has nothing to read
// and has forgotten nothing.
func testFeedEmpty(t *testing.T, e *env) {
	for _, st := range []ccgw.SharedStore{e.a, e.b} {
		if end, err := st.FeedEnd(e.ctx); err != nil || end != "0-0" {
			t.Fatalf("FeedEnd of an empty feed: %q, %v", end, err)
		}
		if changes, err := st.FeedRead(e.ctx, "0-0", 10, 0); err != nil || len(changes) != 0 {
			t.Fatalf("FeedRead of an empty feed: %+v, %v", changes, err)
		}
		if trimmed, err := st.FeedTrimmed(e.ctx); err != nil || trimmed != "" {
			t.Fatalf("FeedTrimmed of an empty feed: %q, %v", trimmed, err)
		}
	}
}

// readFeed reads st's feed after after, max at a time, until nothing is
// left, and returns the changes and the ID of the last.
func (e *env) readFeed(st ccgw.SharedStore, after string, max int) ([]ccgw.SharedChange, string) {
	e.t.Helper()
	var out []ccgw.SharedChange
	for range 100 {
		changes, err := st.FeedRead(e.ctx, after, max, 0)
		wantOK(e.t, "FeedRead", err)
		if len(changes) > max {
			e.t.Fatalf("FeedRead of %d returned %d", max, len(changes))
		}
		if len(changes) == 0 {
			return out, after
		}
		out = append(out, changes...)
		after = changes[len(changes)-1].ID
	}
	e.t.Fatal("FeedRead: more than 100 pages")
	return nil, ""
}

// testFeed: FeedRead returns the changes of both nodes in the order they
// were committed, max at a time, from the end FeedEnd returned, to either
// node: each event (a dropped one too) and each sign-in or Update after its
// events, each end before its shutdown event.
func testFeed(t *testing.T, e *env) {
	start, err := e.b.FeedEnd(e.ctx)
	wantOK(t, "FeedEnd", err)
	rec1 := SignIn(t, e.a, 1001, 1, 50_000, ccgw.EvInService)
	rec2 := SignIn(t, e.b, 1002, 1, 50_000)
	rec1b := Record(t, 1001, 1, ccgw.ModePoll, 4)
	evs := Events(1001, ccgw.EvReady, ccgw.EvSetNotReadySuccess)
	evs[1].Dropped = true
	e.update(e.b, 1001, rec1, rec1b, evs...)
	e.end(e.a, 1001, 1, ccgw.CauseSupervisor, Ending(1001, 1, 60_000), rec1b)
	_, err = e.a.Rotate(e.ctx, []ccgw.SharedRotation{rotation(1002, 1, "h2")}) // not a change of the feed
	wantOK(t, "Rotate", err)
	rec2r := e.get(e.a, 1002)
	rec2b := Record(t, 1002, 2, ccgw.ModePoll)
	_, err = e.a.SignIn(e.ctx, ccgw.SharedSignIn{ID: 1002, Record: rec2b, Force: true, Expect: 1, Deadline: 60_000, KeepFor: KeepFor,
		QueueMax: QueueMax, Replaced: Ending(1002, 1, 70_000), Events: Events(1002, ccgw.EvInService)})
	wantOK(t, "forced sign-in", err)

	want := []string{
		"e 1001 1 " + ccgw.EvInService, "s " + rec1,
		"s " + rec2,
		"e 1001 2 " + ccgw.EvReady, "e 1001 3 " + ccgw.EvSetNotReadySuccess, "s " + rec1b,
		"o " + rec1b, "e 1001 4 " + ccgw.EvShutdownService,
		"o " + rec2r, "e 1002 1 " + ccgw.EvShutdownService, "e 1002 1 " + ccgw.EvInService, "s " + rec2b,
	}
	var last string
	for _, c := range []struct {
		st  ccgw.SharedStore
		max int
	}{{e.a, 2}, {e.b, 1}, {e.b, 100}} {
		changes, end := e.readFeed(c.st, start, c.max)
		if got := feedLines(changes); !slices.Equal(got, want) {
			t.Fatalf("feed read %d at a time:\n%s\nwant:\n%s", c.max, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if last != "" && end != last {
			t.Fatalf("the last change's ID %q, and %q on another read", end, last)
		}
		last = end
		// From the middle: the rest.
		rest, _ := e.readFeed(c.st, changes[5].ID, c.max)
		if got := feedLines(rest); !slices.Equal(got, want[6:]) {
			t.Fatalf("feed after its 6th change:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want[6:], "\n"))
		}
	}
	for _, st := range []ccgw.SharedStore{e.a, e.b} {
		if end, err := st.FeedEnd(e.ctx); err != nil || end != last {
			t.Errorf("FeedEnd: %q, %v; want the last change read, %q", end, err, last)
		}
		if changes, err := st.FeedRead(e.ctx, last, 10, 10*time.Millisecond); err != nil || len(changes) != 0 {
			t.Errorf("FeedRead at the end: %+v, %v; want none", changes, err)
		}
		if trimmed, err := st.FeedTrimmed(e.ctx); err != nil || trimmed != "" {
			t.Errorf("FeedTrimmed of a short feed: %q, %v", trimmed, err)
		}
	}
}

// watch runs w in a goroutine on a context the returned stop cancels; stop
// then waits for w, and fails t unless it returned nil. It waits (up to
// 30 s) until w calls its subscribed callback.
func watch(t *testing.T, what string, w func(ctx context.Context, subscribed func()) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	subscribed := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := w(ctx, func() {
			select {
			case subscribed <- struct{}{}:
			default:
			}
		})
		if err != nil {
			t.Errorf("%s: %v, want nil when ctx ends", what, err)
		}
	}()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not return within 30s of its ctx ending", what)
		}
	})
	t.Cleanup(stop)
	select {
	case <-subscribed:
	case <-done:
		t.Fatalf("%s returned before it subscribed", what)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s never subscribed", what)
	}
	return stop
}

// testWatchAuth: WatchAuth on B hears the auth changes A makes, in order: an
// Update with AuthChanged ('d', its gen), a rotation recorded (Rotated), a
// replacement and an End (each the gen ended); not a plain sign-in, a plain
// Update or a rotation recorded already. It returns nil when its ctx ends.
func testWatchAuth(t *testing.T, e *env) {
	var mu sync.Mutex
	var changes []ccgw.SharedAuthChange
	stop := watch(t, "WatchAuth", func(ctx context.Context, subscribed func()) error {
		return e.b.WatchAuth(ctx, subscribed, func(c ccgw.SharedAuthChange) {
			mu.Lock()
			changes = append(changes, c)
			mu.Unlock()
		})
	})

	const id = 1001
	rec := SignIn(t, e.a, id, 9, 50_000)
	e.update(e.a, id, rec, rec)
	wantOK(t, "Update with AuthChanged", e.a.Update(e.ctx, ccgw.SharedUpdate{ID: id, Expect: rec, Record: rec, QueueMax: QueueMax,
		AuthChanged: true}))
	rot := rotation(id, 9, "g2")
	rot.N = 2
	for range 2 {
		_, err := e.a.Rotate(e.ctx, []ccgw.SharedRotation{rot})
		wantOK(t, "Rotate", err)
	}
	_, err := e.a.SignIn(e.ctx, ccgw.SharedSignIn{ID: id, Record: Record(t, id, 10, ccgw.ModePoll), Force: true, Expect: 9,
		Deadline: 60_000, KeepFor: KeepFor, QueueMax: QueueMax, Replaced: Ending(id, 9, 70_000)})
	wantOK(t, "forced sign-in", err)
	e.end(e.a, id, 10, ccgw.CauseSupervisor, Ending(id, 10, 80_000), Record(t, id, 10, ccgw.ModePoll))

	want := []ccgw.SharedAuthChange{{ID: id, Gen: 9}, {ID: id, Gen: 9, Rotated: true, N: 2, Issued: 2000, PrevUntil: 3000},
		{ID: id, Gen: 9}, {ID: id, Gen: 10}}
	checkFor(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(changes) < len(want) {
			return fmt.Errorf("auth changes %+v, want %+v", changes, want)
		}
		return nil
	})
	stop()
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(changes, want) {
		t.Fatalf("auth changes %+v, want %+v", changes, want)
	}
}

// testWatchEvents: WatchEvents on B wakes the agents A queues events for,
// and those whose session ended (without a shutdown event too). It returns
// nil when its ctx ends.
func testWatchEvents(t *testing.T, e *env) {
	var mu sync.Mutex
	woken := map[ccgw.AgentID]bool{}
	stop := watch(t, "WatchEvents", func(ctx context.Context, subscribed func()) error {
		return e.b.WatchEvents(ctx, subscribed, func(id ccgw.AgentID) {
			mu.Lock()
			woken[id] = true
			mu.Unlock()
		})
	})
	wantWoken := func(ids ...ccgw.AgentID) {
		t.Helper()
		checkFor(t, 30*time.Second, func() error {
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				if !woken[id] {
					return fmt.Errorf("WatchEvents did not wake %d (woken: %v)", id, woken)
				}
			}
			return nil
		})
	}
	SignIn(t, e.a, 1001, 1, 50_000, ccgw.EvInService)
	wantWoken(1001)
	rec := SignIn(t, e.a, 1002, 1, 50_000)
	e.update(e.a, 1002, rec, rec, Events(1002, ccgw.EvReady)...)
	wantWoken(1002)
	rec3 := SignIn(t, e.a, 1003, 1, 50_000)
	e.end(e.a, 1003, 1, ccgw.CauseLogout, loggedOut(1003, 1, 60_000), rec3)
	wantWoken(1003)
	stop()
}
