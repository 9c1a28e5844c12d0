package redis

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/ccgw/ccgw"
)

// Each agent's count of wrong passwords is a hash, {ccgw}:lk:<work number>,
// with fields n, since and until (milliseconds of the gateway's clock, passed
// in; 0: none). Every change is one script, so that nodes counting the same
// agent at once lose no count; the key expires when its window and lock are
// over. On a virtual clock (--clock virtual) that expiry still runs in Redis's
// time: a lock may then end early, in real time.

// LoginFailures implements ccgw.LockoutStore.
func (s *Store) LoginFailures(ctx context.Context, id ccgw.AgentID) (ccgw.LoginFailures, error) {
	r, err := s.rdb.HMGet(ctx, s.key+"lk:"+id.String(), "n", "since", "until").Result()
	if err != nil {
		return ccgw.LoginFailures{}, unavailable(err)
	}
	v := make([]int64, 3)
	for i, x := range r {
		str, _ := x.(string)
		v[i], _ = strconv.ParseInt(str, 10, 64)
	}
	return failuresOf(v), nil
}

// AddLoginFailure implements ccgw.LockoutStore with one script.
func (s *Store) AddLoginFailure(ctx context.Context, id ccgw.AgentID, now time.Time, p ccgw.LockoutPolicy) (ccgw.LoginFailures, error) {
	res, err := s.run(ctx, addLoginFailureScript, id.String(), ccgw.Millis(now),
		p.Window.Milliseconds(), p.Attempts, p.Duration.Milliseconds())
	if err != nil {
		return ccgw.LoginFailures{}, err
	}
	return failuresOfReply(res)
}

// ClearLoginFailures implements ccgw.LockoutStore with one script.
func (s *Store) ClearLoginFailures(ctx context.Context, id ccgw.AgentID, now time.Time) (ccgw.LoginFailures, error) {
	res, err := s.run(ctx, clearLoginFailuresScript, id.String(), ccgw.Millis(now))
	if err != nil {
		return ccgw.LoginFailures{}, err
	}
	return failuresOfReply(res)
}

// failuresOfReply decodes a script's {n, since, until}.
func failuresOfReply(res any) (ccgw.LoginFailures, error) {
	arr, _ := res.([]any)
	if len(arr) != 3 {
		return ccgw.LoginFailures{}, unavailable(errors.New("lockout script: unexpected reply"))
	}
	v := make([]int64, 3)
	for i, x := range arr {
		v[i], _ = x.(int64)
	}
	return failuresOf(v), nil
}

// failuresOf makes {n, since, until} (ms; 0: none) a LoginFailures.
func failuresOf(v []int64) ccgw.LoginFailures {
	f := ccgw.LoginFailures{Count: int(v[0])}
	if v[1] != 0 {
		f.Since = time.UnixMilli(v[1])
	}
	if v[2] != 0 {
		f.Until = time.UnixMilli(v[2])
	}
	return f
}
