package redis

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/ccgw/ccgw"
	goredis "github.com/redis/go-redis/v9"
)

// A session is the string s:<id>, its record as the node encoded it; the
// scripts read only its gen (genOf), skills and mode. Every write of one is a
// compare-and-set in a script (scripts.go) that also queues its events, keeps
// the indexes, feeds the change and tells the nodes' caches.

// Get implements ccgw.SharedStore.
func (s *Store) Get(ctx context.Context, id ccgw.AgentID) (string, error) {
	v, err := s.rdb.Get(ctx, s.key+"s:"+id.String()).Result()
	if errors.Is(err, goredis.Nil) {
		return "", ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if err != nil {
		return "", unavailable(err)
	}
	return v, nil
}

// Read implements ccgw.SharedStore with one MGET.
func (s *Store) Read(ctx context.Context, id ccgw.AgentID) (rec, tomb string, err error) {
	vals, err := s.rdb.MGet(ctx, s.key+"s:"+id.String(), s.key+"t:"+id.String()).Result()
	if err != nil {
		return "", "", unavailable(err)
	}
	if len(vals) != 2 {
		return "", "", unavailable(errUnexpected)
	}
	rec, _ = vals[0].(string)
	tomb, _ = vals[1].(string)
	return rec, tomb, nil
}

// Records implements ccgw.SharedStore with one MGET.
func (s *Store) Records(ctx context.Context, ids []ccgw.AgentID) ([]string, error) {
	if len(ids) == 0 {
		return []string{}, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.key + "s:" + id.String()
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	if len(vals) != len(ids) {
		return nil, unavailable(errUnexpected)
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i], _ = v.(string)
	}
	return out, nil
}

// SignIn implements ccgw.SharedStore with one script (signInScript).
func (s *Store) SignIn(ctx context.Context, w ccgw.SharedSignIn) (string, error) {
	expect, ending := "", []any{0, "", "", "", 0}
	if w.Expect != 0 {
		expect, ending = strconv.FormatUint(w.Expect, 10), endingArgs(&w.Replaced)
	}
	args := make([]any, 0, 15+len(w.Events))
	args = append(args, w.ID.String(), w.Record, boolArg(w.Force), expect, w.Deadline, w.KeepFor.Milliseconds(),
		w.QueueMax, boolArg(w.Push), joinInts(w.Skills), boolArg(w.Simulated))
	args = append(args, ending...)
	args = appendEvents(args, w.Events)
	res, err := s.run(ctx, signInScript, args...)
	if err != nil {
		return "", err
	}
	switch code, out := pair(res); code {
	case ccgw.RetOK:
		if len(out) > 1 {
			return out[1], nil
		}
		return "", nil
	case "conflict":
		return "", ccgw.ErrChanged
	case ccgw.RetAlreadySignedIn:
		return "", &ccgw.Error{Code: ccgw.RetAlreadySignedIn}
	default:
		return "", &ccgw.Error{Code: code}
	}
}

// Update implements ccgw.SharedStore with one script (updateScript).
func (s *Store) Update(ctx context.Context, w ccgw.SharedUpdate) error {
	args := make([]any, 0, 8+len(w.Events))
	args = append(args, w.ID.String(), w.Expect, w.Record, w.QueueMax, boolArg(w.Push),
		joinInts(w.SkillsOff), joinInts(w.SkillsOn), boolArg(w.AuthChanged))
	args = appendEvents(args, w.Events)
	res, err := s.run(ctx, updateScript, args...)
	if err != nil {
		return err
	}
	switch res {
	case "ok":
		return nil
	case "gone":
		return ccgw.Fail(ccgw.RetNotSignedIn)
	}
	return ccgw.ErrChanged
}

// End implements ccgw.SharedStore with one script (endScript).
func (s *Store) End(ctx context.Context, w ccgw.SharedEnd) (string, error) {
	args := []any{w.ID.String(), strconv.FormatUint(w.Gen, 10), w.Expect, string(w.Cause), w.KeepFor.Milliseconds()}
	res, err := s.run(ctx, endScript, append(args, endingArgs(&w.Ending)...)...)
	if err != nil {
		return "", err
	}
	switch code, out := pair(res); code {
	case ccgw.RetOK:
		if len(out) < 2 {
			return "", unavailable(errUnexpected)
		}
		return out[1], nil
	case "conflict":
		return "", ccgw.ErrChanged
	}
	return "", ccgw.Fail(ccgw.RetNotSignedIn)
}

// Expire implements ccgw.SharedStore with one script (expireScript). The
// tombstones' keys outlive a node that sweeps nothing by the first end's
// KeepFor.
func (s *Store) Expire(ctx context.Context, ends []ccgw.SharedEnd) ([]string, error) {
	if len(ends) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 1+7*len(ends))
	args = append(args, ends[0].KeepFor.Milliseconds())
	for i := range ends {
		w := &ends[i]
		args = append(args, w.ID.String(), strconv.FormatUint(w.Gen, 10))
		args = append(args, endingArgs(&w.Ending)...)
	}
	res, err := s.run(ctx, expireScript, args...)
	if err != nil {
		return nil, err
	}
	return strs(res), nil
}

// endingArgs returns e as the scripts' ending arguments: qmax, drop,
// shutdown ("" for none), tomb, tombEnd.
func endingArgs(e *ccgw.SharedEnding) []any {
	shutdown := ""
	if e.Shutdown != nil {
		shutdown = eventArg(e.Shutdown)
	}
	return []any{e.QueueMax, string(e.Drop), shutdown, e.Tomb, e.TombEnd}
}

// appendEvents appends evs to args as event arguments.
func appendEvents(args []any, evs []ccgw.SharedEvent) []any {
	for i := range evs {
		args = append(args, eventArg(&evs[i]))
	}
	return args
}

// eventArg returns ev as the scripts queue it: its JSON (without its seq,
// which the script gives it), marked '!' if it is dropped.
func eventArg(ev *ccgw.SharedEvent) string {
	b, _ := json.Marshal(&ev.Event)
	if ev.Dropped {
		return "!" + string(b)
	}
	return string(b)
}
