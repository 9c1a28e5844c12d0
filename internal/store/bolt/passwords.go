package bolt

import (
	"bytes"
	"context"
	"fmt"

	"github.com/ccgw/ccgw"
	bolt "go.etcd.io/bbolt"
)

// passwordsBucket maps a work number (key) to its password record, as
// internal/agent encoded it: salted hashes, never a password.
var passwordsBucket = []byte("passwords")

var _ ccgw.PasswordStore = (*Store)(nil)

// Password implements ccgw.PasswordStore.
func (s *Store) Password(ctx context.Context, id ccgw.AgentID) ([]byte, error) {
	var rec []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		rec = bytes.Clone(tx.Bucket(passwordsBucket).Get(key(id)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: password of %s: %w", id, err)
	}
	return rec, nil
}

// SwapPassword implements ccgw.PasswordStore. The write shares a transaction
// with concurrent writes (commit.go) and is on disk when it returns true.
func (s *Store) SwapPassword(ctx context.Context, id ccgw.AgentID, old, rec []byte) (bool, error) {
	var swapped bool
	err := s.w.write(func(tx *bolt.Tx) error {
		swapped = false // run again alone if another write of the transaction fails
		b := tx.Bucket(passwordsBucket)
		if !bytes.Equal(b.Get(key(id)), old) {
			return nil
		}
		swapped = true
		return b.Put(key(id), rec)
	})
	if err != nil {
		return false, fmt.Errorf("bolt: password of %s: %w", id, err)
	}
	return swapped, nil
}
