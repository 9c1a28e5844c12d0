package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ccgw/ccgw"
	bolt "go.etcd.io/bbolt"
)

// lockoutsBucket maps a work number (key) to its count of wrong passwords:
// count, since and until as three big-endian int64s (milliseconds of the
// gateway's clock; 0: none). A record is deleted when a right password clears
// it or when a wrong one finds it expired; one that is never touched again
// stays, so the bucket holds at most one record per work number (24 bytes).
var lockoutsBucket = []byte("lockouts")

var _ ccgw.LockoutStore = (*Store)(nil)

// LoginFailures implements ccgw.LockoutStore.
func (s *Store) LoginFailures(ctx context.Context, id ccgw.AgentID) (ccgw.LoginFailures, error) {
	var f ccgw.LoginFailures
	err := s.db.View(func(tx *bolt.Tx) error {
		f = decodeFailures(tx.Bucket(lockoutsBucket).Get(key(id)))
		return nil
	})
	if err != nil {
		return ccgw.LoginFailures{}, fmt.Errorf("bolt: lockout of %s: %w", id, err)
	}
	return f, nil
}

// AddLoginFailure implements ccgw.LockoutStore in one write transaction (shared
// with concurrent writes, commit.go); it is on disk when it returns.
func (s *Store) AddLoginFailure(ctx context.Context, id ccgw.AgentID, now time.Time, p ccgw.LockoutPolicy) (ccgw.LoginFailures, error) {
	now = time.UnixMilli(ccgw.Millis(now))
	var f ccgw.LoginFailures
	err := s.w.write(func(tx *bolt.Tx) error {
		b := tx.Bucket(lockoutsBucket)
		f = p.Fail(decodeFailures(b.Get(key(id))), now)
		if !p.Expiry(f).After(now) {
			return b.Delete(key(id))
		}
		return b.Put(key(id), encodeFailures(f))
	})
	if err != nil {
		return ccgw.LoginFailures{}, fmt.Errorf("bolt: lockout of %s: %w", id, err)
	}
	return f, nil
}

// ClearLoginFailures implements ccgw.LockoutStore. It writes only if there is a
// record to delete, so a sign-in of an agent with no wrong password costs a read.
func (s *Store) ClearLoginFailures(ctx context.Context, id ccgw.AgentID, now time.Time) (ccgw.LoginFailures, error) {
	f, err := s.LoginFailures(ctx, id)
	if err != nil || f == (ccgw.LoginFailures{}) || f.Locked(now) {
		return f, err
	}
	err = s.w.write(func(tx *bolt.Tx) error {
		b := tx.Bucket(lockoutsBucket)
		f = decodeFailures(b.Get(key(id)))
		if f.Locked(now) {
			return nil
		}
		return b.Delete(key(id))
	})
	if err != nil {
		return ccgw.LoginFailures{}, fmt.Errorf("bolt: lockout of %s: %w", id, err)
	}
	return f, nil
}

func encodeFailures(f ccgw.LoginFailures) []byte {
	v := make([]byte, 24)
	binary.BigEndian.PutUint64(v[0:], uint64(f.Count))
	binary.BigEndian.PutUint64(v[8:], uint64(msOrZero(f.Since)))
	binary.BigEndian.PutUint64(v[16:], uint64(msOrZero(f.Until)))
	return v
}

// decodeFailures reads what encodeFailures wrote; anything else (nil: no
// record) is the zero LoginFailures.
func decodeFailures(v []byte) ccgw.LoginFailures {
	if len(v) != 24 {
		return ccgw.LoginFailures{}
	}
	f := ccgw.LoginFailures{Count: int(binary.BigEndian.Uint64(v[0:]))}
	if ms := int64(binary.BigEndian.Uint64(v[8:])); ms != 0 {
		f.Since = time.UnixMilli(ms)
	}
	if ms := int64(binary.BigEndian.Uint64(v[16:])); ms != 0 {
		f.Until = time.UnixMilli(ms)
	}
	return f
}

func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ccgw.Millis(t)
}
