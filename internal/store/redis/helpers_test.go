package redis

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/redistest"
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
func client(t *testing.T, srv *redistest.Server) *goredis.Client {
	t.Helper()
	opt, err := goredis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// checkFor calls f every 10ms until it returns nil, and fails t with its last
// error after timeout: for what another goroutine or process does.
func checkFor(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	end := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
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
