package redis

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/redistest"
	"github.com/ccgw/ccgw/internal/store/sharedtest"
)

// TestSharedStoreContract runs the ccgw.SharedStore suite on Redis: each case
// on a fresh key prefix of one redis-server, through two Stores on it, as two
// nodes of a cluster. What needs Redis itself (Redis down, the layout of an
// earlier version, the pub/sub messages' format) is tested below.
func TestSharedStoreContract(t *testing.T) {
	srv := redistest.Start(t)
	sharedtest.Run(t, func(t *testing.T) sharedtest.Pair {
		prefix := newPrefix()
		return sharedtest.Pair{A: open(t, srv, prefix, "AgentGateway1"), B: open(t, srv, prefix, "AgentGateway2")}
	})
}

// TestParseAuth: the auth channel's messages, malformed items left out.
func TestParseAuth(t *testing.T) {
	for _, c := range []struct {
		payload string
		want    []ccgw.SharedAuthChange
	}{
		{"d 1001:5", []ccgw.SharedAuthChange{{ID: 1001, Gen: 5}}},
		{"d 1001:5,x:1,1002,1003:6", []ccgw.SharedAuthChange{{ID: 1001, Gen: 5}, {ID: 1003, Gen: 6}}},
		{"r 1001:5:2:100:200", []ccgw.SharedAuthChange{{ID: 1001, Gen: 5, Rotated: true, N: 2, Issued: 100, PrevUntil: 200}}},
		{"r 1001:5:2:100", []ccgw.SharedAuthChange{{ID: 1001, Gen: 5}}},
		{"r 1001:5:x:100:200", []ccgw.SharedAuthChange{{ID: 1001, Gen: 5}}},
		{"x 1001:5", nil},
		{"d", nil},
	} {
		if got := parseAuth(c.payload); !slices.Equal(got, c.want) {
			t.Errorf("parseAuth(%q) = %+v, want %+v", c.payload, got, c.want)
		}
	}
}

// TestRedisDown: every method fails with RetInternal while Redis is down, and
// works again once it is back.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	st := open(t, srv, newPrefix(), "")
	ctx := context.Background()
	srv.Stop()
	wantCodeT(t, "Ping", st.Ping(ctx), ccgw.RetInternal)
	_, err := st.Get(ctx, 1001)
	wantCodeT(t, "Get", err, ccgw.RetInternal)
	_, err = st.SignIn(ctx, ccgw.SharedSignIn{ID: 1001, Record: sharedtest.Record(t, 1001, 1, ccgw.ModePoll), KeepFor: time.Minute})
	wantCodeT(t, "SignIn", err, ccgw.RetInternal)
	_, err = st.Tick(ctx, ccgw.SharedTick{Now: 1, KeepFor: time.Minute})
	wantCodeT(t, "Tick", err, ccgw.RetInternal)
	_, err = st.FeedRead(ctx, "0-0", 10, 0)
	wantCodeT(t, "FeedRead", err, ccgw.RetInternal)
	wantCodeT(t, "WatchAuth", st.WatchAuth(ctx, func() {}, func(ccgw.SharedAuthChange) {}), ccgw.RetInternal)
	srv.Restart()
	checkFor(t, 10*time.Second, func() error { return st.Ping(ctx) })
}
