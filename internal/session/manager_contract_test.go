package session_test

import (
	"testing"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/session/sessiontest"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// TestManagerContract runs the ccgw.SessionService suite on the single-node
// Manager with its sessions and events in bbolt, as --store bolt runs it, and
// in memory (internal/store/mem, the tests' and benchmarks' store).
func TestManagerContract(t *testing.T) {
	type store interface {
		ccgw.SessionStore
		ccgw.EventStore
	}
	for _, backend := range []struct {
		name string
		open func(t *testing.T) store
	}{
		{"bolt", func(t *testing.T) store {
			st, err := bolt.Open(t.TempDir())
			if err != nil {
				t.Fatalf("bolt.Open: %v", err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
		{"mem", func(*testing.T) store { return mem.New() }},
	} {
		t.Run(backend.name, func(t *testing.T) {
			sessiontest.Run(t, func(t *testing.T, cfg sessiontest.Config) sessiontest.Node {
				st := backend.open(t)
				m, err := session.New(session.Config{
					SessionSettings: cfg.Settings(),
					Store:           st,
					Events:          st,
				})
				if err != nil {
					t.Fatalf("session.New: %v", err)
				}
				if n, err := m.Restore(); err != nil || n != 0 {
					t.Fatalf("Restore of an empty store: %d, %v", n, err)
				}
				return sessiontest.Node{Service: m, Sweep: m.Sweep}
			})
		})
	}
}
