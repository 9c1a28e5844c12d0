package agent

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/ccgw/ccgw"
)

// PasswordIter is the PBKDF2-HMAC-SHA256 iteration count of new hashes: 0.55 ms
// a hash on the 2-core test machine (docs/decisions.md). Only a sign-in of an
// agent whose password was changed pays it. Each hash keeps its own count, so
// raising this leaves stored hashes valid.
const PasswordIter = 4096

const (
	passwordAlg  = "pbkdf2-sha256"
	saltLen      = 16
	hashLen      = 32
	maxIter      = 1 << 20 // a stored count above this is refused, not computed
	swapAttempts = 5       // tries of a change that races with another change of the agent
)

// PasswordHash is one password, salted and hashed.
type PasswordHash struct {
	Alg  string `json:"alg"` // "pbkdf2-sha256"
	Iter int    `json:"iter"`
	Salt []byte `json:"salt"`
	Hash []byte `json:"hash"`
}

// PasswordRecord is what a ccgw.PasswordStore keeps, encoded as JSON, for an
// agent whose password was changed: its current password and the ones before,
// as PasswordHashes.
type PasswordRecord struct {
	Current PasswordHash   `json:"current"`
	History []PasswordHash `json:"history"` // earlier passwords, newest last, at most HistoryLen
}

// hashPassword salts and hashes pw with a fresh random salt.
func hashPassword(pw string) PasswordHash {
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails (crypto/rand, Go 1.24+)
	return PasswordHash{Alg: passwordAlg, Iter: PasswordIter, Salt: salt, Hash: derive(pw, salt, PasswordIter)}
}

func derive(pw string, salt []byte, iter int) []byte {
	k, err := pbkdf2.Key(sha256.New, pw, salt, iter, hashLen)
	if err != nil { // only for parameters FIPS mode refuses
		return nil
	}
	return k
}

// Matches reports whether pw is the password h was made from. It compares in
// constant time; a hash of an unknown kind matches nothing.
func (h PasswordHash) Matches(pw string) bool {
	if h.Alg != passwordAlg || h.Iter < 1 || h.Iter > maxIter || len(h.Hash) != hashLen {
		return false
	}
	return subtle.ConstantTimeCompare(derive(pw, h.Salt, h.Iter), h.Hash) == 1
}

// Used reports whether pw is one of r's earlier passwords.
func (r PasswordRecord) Used(pw string) bool {
	for _, h := range r.History {
		if h.Matches(pw) {
			return true
		}
	}
	return false
}

// encodeRecord returns r as a ccgw.PasswordStore keeps it (JSON; salts and
// hashes in base64).
func encodeRecord(r PasswordRecord) []byte {
	b, _ := json.Marshal(r) // cannot fail: strings, ints and byte slices
	return b
}

// decodeRecord parses what encodeRecord returned.
func decodeRecord(b []byte) (PasswordRecord, error) {
	var r PasswordRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return PasswordRecord{}, fmt.Errorf("password record: %w", err)
	}
	return r, nil
}

// MemPasswords is a ccgw.PasswordStore in memory: changes last while the process
// runs. It is what a Directory uses until UsePasswords gives it another.
type MemPasswords struct {
	mu   sync.Mutex // guards recs
	recs map[ccgw.AgentID][]byte
}

var _ ccgw.PasswordStore = (*MemPasswords)(nil)

// NewMemPasswords returns an empty MemPasswords.
func NewMemPasswords() *MemPasswords { return &MemPasswords{recs: map[ccgw.AgentID][]byte{}} }

// Password implements ccgw.PasswordStore; it never fails.
func (m *MemPasswords) Password(ctx context.Context, id ccgw.AgentID) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.recs[id]), nil
}

// SwapPassword implements ccgw.PasswordStore; it never fails.
func (m *MemPasswords) SwapPassword(ctx context.Context, id ccgw.AgentID, old, rec []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !bytes.Equal(m.recs[id], old) {
		return false, nil
	}
	m.recs[id] = bytes.Clone(rec)
	return true, nil
}
