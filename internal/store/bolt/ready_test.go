package bolt

import (
	"errors"
	"strings"
	"testing"

	"github.com/ccgw/ccgw"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// fillUntilFull writes sessions with 4 KiB of callback URL each, from agent
// first on, until a commit fails for the file's MaxSize (a full disk as bbolt
// sees one), and returns the next agent. It fails tb if that takes more than
// max writes.
func fillUntilFull(tb testing.TB, s *Store, first ccgw.AgentID, max int) ccgw.AgentID {
	tb.Helper()
	big := strings.Repeat("x", 4096)
	for id := first; id < first+ccgw.AgentID(max); id++ {
		err := s.PutSession(&ccgw.Session{Agent: id, Gen: 1, CallbackURI: big})
		if err == nil {
			continue
		}
		if !errors.Is(err, berrors.ErrMaxSizeReached) {
			tb.Fatalf("agent %d: %v, want bbolt's ErrMaxSizeReached", id, err)
		}
		return id
	}
	tb.Fatalf("%d writes and the file is not full", max)
	return 0
}

// TestReadyFollowsWrites fills a store capped at 1 MiB (bbolt's MaxSize: a
// commit that needs the file to grow fails, as on a full disk): Ready turns
// false on the failed commit and true again on the next that succeeds, once
// deletes made room.
func TestReadyFollowsWrites(t *testing.T) {
	s, err := OpenWith(t.TempDir(), Options{MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Ready() {
		t.Fatal("a new store is not ready")
	}
	next := fillUntilFull(t, s, 101, 1000)
	if s.Ready() {
		t.Fatal("Ready after a commit failed")
	}
	// Deletes free pages; the first that commits makes the store ready again.
	deleted := 0
	for id := ccgw.AgentID(101); id < next && !s.Ready(); id++ {
		if err := s.DeleteSession(id, 1); err == nil {
			deleted++
		}
	}
	if !s.Ready() || deleted == 0 {
		t.Fatalf("after deletes: Ready %v, %d deletes committed", s.Ready(), deleted)
	}
	if err := s.PutSession(&ccgw.Session{Agent: next, Gen: 1}); err != nil || !s.Ready() {
		t.Fatalf("write after the room was made: %v, Ready %v", err, s.Ready())
	}
}

// TestProbeRestoresReady fills the store until a commit fails, then makes room
// behind the store's back (as an operator freeing disk space would): the store
// stays not ready until a write of its own commits, and Probe is one. Before
// the room is made, a Probe's small record may still fit in bbolt's free pages:
// whatever it finds, Ready says.
func TestProbeRestoresReady(t *testing.T) {
	s, err := OpenWith(t.TempDir(), Options{MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	next := fillUntilFull(t, s, 101, 1000)
	if err := s.Probe(); (err == nil) != s.Ready() {
		t.Fatalf("Probe on a full file: %v, but Ready %v", err, s.Ready())
	}
	next = fillUntilFull(t, s, next, 1000) // not ready again, whatever the probe did
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(sessionsBucket)
		for id := ccgw.AgentID(101); id < next; id++ {
			if err := b.Delete(key(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("making room: %v", err)
	}
	if s.Ready() {
		t.Fatal("ready before any write of the store succeeded")
	}
	if err := s.Probe(); err != nil || !s.Ready() {
		t.Fatalf("Probe after room was made: %v, Ready %v", err, s.Ready())
	}
}

// TestReadyIgnoresAWriteFunctionsError: a write whose own function fails (the
// data, not the disk) leaves the store ready.
func TestReadyIgnoresAWriteFunctionsError(t *testing.T) {
	s, _ := tSessOpen(t)
	boom := errors.New("refused")
	if err := s.w.write(func(*bolt.Tx) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("write = %v", err)
	}
	if !s.Ready() {
		t.Fatal("not ready after a write function failed")
	}
	s.Close()
	if s.Ready() {
		t.Fatal("ready after Close")
	}
}
