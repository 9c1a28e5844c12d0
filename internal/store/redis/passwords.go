package redis

import (
	"context"
	"errors"

	"github.com/ccgw/ccgw"
	goredis "github.com/redis/go-redis/v9"
)

// The changed passwords of all agents are one hash, {ccgw}:pw: field the work
// number, value its password record as internal/agent encoded it (salted
// hashes, never a password). A node reads it at each check, so a change through
// any node holds on every node at once.

// Password implements ccgw.PasswordStore. While Redis is unreachable it fails
// with RetInternal, as every other request does.
func (s *Store) Password(ctx context.Context, id ccgw.AgentID) ([]byte, error) {
	rec, err := s.rdb.HGet(ctx, s.key+"pw", id.String()).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(err)
	}
	return rec, nil
}

// SwapPassword implements ccgw.PasswordStore with a compare-and-set script. It
// is as durable as Redis's own persistence (appendfsync).
func (s *Store) SwapPassword(ctx context.Context, id ccgw.AgentID, old, rec []byte) (bool, error) {
	res, err := s.run(ctx, swapPasswordScript, id.String(), old, rec)
	if err != nil {
		return false, err
	}
	n, _ := res.(int64)
	return n == 1, nil
}
