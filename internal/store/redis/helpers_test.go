package redis

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/redistest"
	"github.com/ccgw/ccgw/internal/wait"
	goredis "github.com/redis/go-redis/v9"
)

// prefixes numbers the key prefixes, so that tests share one redis-server
// without seeing each other's keys.
var prefixes atomic.Int64

func newPrefix() string { return fmt.Sprintf("{t%d}:", prefixes.Add(1)) }

// open opens a Store on srv with prefix, named node (if not ""), closed when
// the test ends.
func open(t testing.TB, srv *redistest.Server, prefix, node string) *Store {
	t.Helper()
	st, err := Open(Config{URL: srv.URL(), Prefix: prefix, NodeName: node})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Ping(context.Background()); err != nil {
		t.Fatalf("Ping on a running Redis: %v", err)
	}
	return st
}

// nodes is two Stores ("nodes") on one Redis and one prefix.
type nodes struct {
	srv  *redistest.Server
	a, b *Store
}

func newPair(t *testing.T) *nodes {
	t.Helper()
	p := &nodes{srv: redistest.Start(t)}
	prefix := newPrefix()
	p.a = open(t, p.srv, prefix, "AgentGateway1")
	p.b = open(t, p.srv, prefix, "AgentGateway2")
	return p
}

// client returns a plain client of srv, for looking at keys.
func client(t *testing.T, srv *redistest.Server) *goredis.Client { return srv.Client(t) }

// checkFor calls f every 10ms until it returns nil, and fails t with its last
// error after timeout.
func checkFor(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	wait.For(t, timeout, 10*time.Millisecond, f)
}

func wantOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantCodeT(t *testing.T, what string, err error, want ccgw.Retcode) {
	t.Helper()
	if got := ccgw.CodeOf(err); got != want {
		t.Fatalf("%s: retcode %s (%v), want %s", what, got, err, want)
	}
}
