// Package bolt implements ccgw.SessionStore on an embedded bbolt file, the default
// store of a single gateway node.
package bolt

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/ccgw/ccgw"
	bolt "go.etcd.io/bbolt"
)

var sessionsBucket = []byte("sessions")

// Store is a ccgw.SessionStore in a bbolt file. Concurrent writes are coalesced
// into shared transactions (commit.go), so many sign-ins cost few fsyncs.
type Store struct {
	db      *bolt.DB
	w       *committer
	closed  atomic.Bool
	probing atomic.Bool // a Probe is writing
}

var _ ccgw.SessionStore = (*Store)(nil)

// Open opens (creating if needed) the store in dir/ccgw.db: OpenWith with the
// default Options (a damaged file is an error).
func Open(dir string) (*Store, error) {
	return OpenWith(dir, Options{})
}

func key(id ccgw.AgentID) []byte {
	var k [4]byte
	binary.BigEndian.PutUint32(k[:], uint32(id))
	return k[:]
}

// PutSession implements ccgw.SessionStore.
func (s *Store) PutSession(sess *ccgw.Session) error {
	v := encodeSession(sess)
	return s.w.write(func(tx *bolt.Tx) error { return putSessionTx(tx, sess, v) })
}

// PutSessionEvents stores sess and appends evs to its events (as AppendEvents
// does) in one transaction: a state change and the events it made cost one
// commit, not two in a row.
func (s *Store) PutSessionEvents(sess *ccgw.Session, evs []ccgw.Event) error {
	v := encodeSession(sess)
	vals := encodeEvents(evs)
	return s.w.write(func(tx *bolt.Tx) error {
		if err := putSessionTx(tx, sess, v); err != nil {
			return err
		}
		return appendEventsTx(tx, sess.Agent, sess.Gen, evs, vals)
	})
}

// putSessionTx stores sess, encoded as v, unless a later sign-in of its agent is
// stored.
func putSessionTx(tx *bolt.Tx, sess *ccgw.Session, v []byte) error {
	b := tx.Bucket(sessionsBucket)
	k := key(sess.Agent)
	if old := b.Get(k); old != nil && storedGen(old) > sess.Gen {
		return nil
	}
	return b.Put(k, v)
}

// DeleteSession implements ccgw.SessionStore.
func (s *Store) DeleteSession(id ccgw.AgentID, gen uint64) error {
	return s.w.write(func(tx *bolt.Tx) error { return deleteSessionTx(tx, id, gen) })
}

// DeleteSessions implements ccgw.SessionStore, in one transaction.
func (s *Store) DeleteSessions(refs []ccgw.SessionRef) error {
	if len(refs) == 0 {
		return nil
	}
	return s.w.write(func(tx *bolt.Tx) error { return deleteSessionsTx(tx, refs) })
}

// DeleteSessionsEvents deletes the sessions of refs (as DeleteSessions) and
// drops their events (as DropSignIns) in one transaction: a sweep's sign-outs,
// thousands at once when a site falls silent, cost one commit, not two each.
func (s *Store) DeleteSessionsEvents(refs []ccgw.SessionRef) error {
	if len(refs) == 0 {
		return nil
	}
	return s.w.write(func(tx *bolt.Tx) error {
		if err := deleteSessionsTx(tx, refs); err != nil {
			return err
		}
		return dropSignInsTx(tx, refs)
	})
}

// deleteSessionTx deletes agent id's session if it is sign-in gen.
func deleteSessionTx(tx *bolt.Tx, id ccgw.AgentID, gen uint64) error {
	b := tx.Bucket(sessionsBucket)
	k := key(id)
	if old := b.Get(k); old != nil && storedGen(old) == gen {
		return b.Delete(k)
	}
	return nil
}

func deleteSessionsTx(tx *bolt.Tx, refs []ccgw.SessionRef) error {
	for _, r := range refs {
		if err := deleteSessionTx(tx, r.Agent, r.Gen); err != nil {
			return err
		}
	}
	return nil
}

// LoadSessions implements ccgw.SessionStore. A record that cannot be decoded is
// skipped and reported in the returned error only if fn never failed (OpenWith
// refuses a file with one, so only a record written since can be). Every call of
// fn gets the same *ccgw.Session. A panic while reading is returned as a
// *DamagedError.
func (s *Store) LoadSessions(fn func(*ccgw.Session) error) (err error) {
	defer s.damagedOnPanic(&err)
	var bad error         // the first undecodable record
	var sess ccgw.Session // reused: one allocation, not one per session
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(sessionsBucket).ForEach(func(k, v []byte) error {
			if err := decodeSession(v, &sess); err != nil {
				if bad == nil {
					bad = fmt.Errorf("bolt: session %x: %w", k, err)
				}
				return nil
			}
			return fn(&sess)
		})
	})
	if err != nil {
		return err
	}
	return bad
}

// Close implements ccgw.SessionStore; it is safe to call more than once.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.w.close()
	return s.db.Close()
}

// damagedOnPanic, deferred, turns a panic (or, with the fault-to-panic setting,
// a memory fault on bbolt's map) into a *DamagedError in *err.
func (s *Store) damagedOnPanic(err *error) {
	if p := recover(); p != nil {
		*err = damaged(s.db.Path(), "%v", p)
	}
}

// Ready reports whether the store is open and its last commit succeeded: after
// a write fails (a full disk, an I/O error, MaxSize) it is false until one
// succeeds again. It does no I/O.
func (s *Store) Ready() bool { return !s.closed.Load() && s.w.failure() == nil }

// errProbing is Probe's answer while another Probe writes.
var errProbing = errors.New("bolt: a probe is already writing")

// maxGrowth is bbolt's largest growth step of the data file (its AllocSize).
const maxGrowth = 16 << 20

// Probe finds out whether the store can write again, and returns why not: the
// data file's filesystem must have room for the file's next growth (its size,
// at most 16 MiB, as bbolt grows it), and a small record (a counter in the keys
// bucket) must commit. A store that is not Ready becomes Ready by it, with no
// other traffic (a load balancer that took the node out sends none). The room
// check comes first because bbolt rewrites its free pages without growing: on
// a full disk a small record still commits while sign-ins, which need the file
// to grow, fail. One Probe runs at a time; another meanwhile returns at once
// with an error.
func (s *Store) Probe() error {
	if !s.probing.CompareAndSwap(false, true) {
		return errProbing
	}
	defer s.probing.Store(false)
	if fi, err := os.Stat(s.db.Path()); err == nil {
		need := uint64(min(max(fi.Size(), 64<<10), maxGrowth))
		if free, ok := freeBytes(filepath.Dir(s.db.Path())); ok && free < need {
			return fmt.Errorf("bolt: %d bytes free beside the data file, its next growth needs %d", free, need)
		}
	}
	return s.w.write(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(keysBucket)
		if err != nil {
			return err
		}
		var n uint64
		if v := b.Get(probeKey); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		return b.Put(probeKey, binary.BigEndian.AppendUint64(nil, n+1))
	})
}

// probeKey is Probe's record in the keys bucket.
var probeKey = []byte("probe")

var keysBucket = []byte("keys")

// Key returns the secret named name, of n random bytes, made and stored the first
// time it is asked for: the key of the derived GUIDs is one.
func (s *Store) Key(name string, n int) ([]byte, error) {
	var key []byte
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(keysBucket)
		if err != nil {
			return err
		}
		if v := b.Get([]byte(name)); len(v) == n {
			key = append([]byte(nil), v...)
			return nil
		}
		key = make([]byte, n)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		return b.Put([]byte(name), key)
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: key %s: %w", name, err)
	}
	return key, nil
}

var _ ccgw.SharedLog = (*Store)(nil)

// CountSessions implements ccgw.SharedLog. It walks the bucket's pages, not
// its records.
func (s *Store) CountSessions() (n int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(sessionsBucket).Stats().KeyN
		return nil
	})
	return n, err
}

// Commit implements ccgw.SharedLog, in one transaction.
func (s *Store) Commit(ops []ccgw.LogOp) error {
	if len(ops) == 0 {
		return nil
	}
	// Encoded before the commit, so that its transaction does only writes.
	puts := make([][]byte, len(ops))
	evs := make([][][]byte, len(ops))
	for i, op := range ops {
		if op.Put != nil {
			puts[i] = encodeSession(op.Put)
		}
		if len(op.Events) > 0 {
			evs[i] = encodeEvents(op.Events)
		}
	}
	return s.w.write(func(tx *bolt.Tx) error {
		for i, op := range ops {
			if op.Put != nil {
				if err := putSessionTx(tx, op.Put, puts[i]); err != nil {
					return err
				}
			}
			id, gen := op.Ref.Agent, op.Ref.Gen
			if op.Delete {
				if err := deleteSessionTx(tx, id, gen); err != nil {
					return err
				}
				if err := dropEventsTx(tx, id, gen); err != nil {
					return err
				}
			}
			if len(op.Events) > 0 {
				if err := appendEventsTx(tx, id, gen, op.Events, evs[i]); err != nil {
					return err
				}
			}
			if op.Acked > 0 {
				if err := ackTx(tx, id, gen, op.Acked); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
