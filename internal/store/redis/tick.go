package redis

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/ccgw/ccgw"
	goredis "github.com/redis/go-redis/v9"
)

// Deadlines are the sorted set dl, scored with each deadline less the epoch
// offset off, so that catching up after an outage moves every deadline on
// with one INCRBY. A tick (tickScript) writes a node's batched renewals and
// rotations, then moves due sessions to dlc, claimed by that node, and takes
// due rests: each is claimed by exactly one node's tick.

// Tick implements ccgw.SharedStore with one script (tickScript).
func (s *Store) Tick(ctx context.Context, t ccgw.SharedTick) (ccgw.SharedTicked, error) {
	args := make([]any, 0, 10+2*len(t.Renewals)+8*len(t.Rotations))
	args = append(args, t.Now, t.Claim.Milliseconds(), t.Limit, t.KeepFor.Milliseconds(), t.QueueMax, t.Grace.Milliseconds(),
		t.RestLimit, boolArg(t.Pending), len(t.Renewals), t.Lease.Milliseconds())
	for id, dl := range t.Renewals {
		args = append(args, dl, id.String())
	}
	args = appendRotations(args, t.Rotations)
	res, err := s.run(ctx, tickScript, args...)
	if err != nil {
		return ccgw.SharedTicked{}, err
	}
	arr, _ := res.([]any)
	if len(arr) != 5 {
		return ccgw.SharedTicked{}, unavailable(errUnexpected)
	}
	var out ccgw.SharedTicked
	claimed := strs(arr[1])
	for i := 0; i+1 < len(claimed); i += 2 {
		dl, _ := strconv.ParseInt(claimed[i+1], 10, 64)
		out.Claimed = append(out.Claimed, ccgw.SharedClaim{Record: claimed[i], Deadline: dl})
	}
	for _, m := range strs(arr[2]) {
		idStr, seqStr, ok := strings.Cut(m, ":")
		id, okID := parseID(idStr)
		seq, err := strconv.ParseUint(seqStr, 10, 64)
		if ok && okID && err == nil {
			out.Rests = append(out.Rests, ccgw.SharedRest{ID: id, RestSeq: seq})
		}
	}
	out.Conflicts = parseIDs(strs(arr[3]))
	out.Pending = parseIDs(strs(arr[4]))
	return out, nil
}

// Rotate implements ccgw.SharedStore with one script (rotateScript).
func (s *Store) Rotate(ctx context.Context, rots []ccgw.SharedRotation) ([]ccgw.AgentID, error) {
	if len(rots) == 0 {
		return nil, nil
	}
	res, err := s.run(ctx, rotateScript, appendRotations(make([]any, 0, 8*len(rots)), rots)...)
	if err != nil {
		return nil, err
	}
	return parseIDs(strs(res)), nil
}

// FileRest implements ccgw.SharedStore: member "id:restSeq" of the set rest,
// scored with until.
func (s *Store) FileRest(ctx context.Context, id ccgw.AgentID, restSeq uint64, until int64) error {
	member := id.String() + ":" + strconv.FormatUint(restSeq, 10)
	if err := s.rdb.ZAdd(ctx, s.key+"rest", goredis.Z{Score: float64(until), Member: member}).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// appendRotations appends rots to args as the scripts' rotation records
// (record in scripts.go): id, gen, expect, next, fragment, n, issued,
// prevUntil. The GUIDs are compared inside the record's JSON, so they are
// passed as encoding/json writes them between quotes, and the fragment is the
// record's new GUID block, encoded as ccgw.Session encodes those fields.
func appendRotations(args []any, rots []ccgw.SharedRotation) []any {
	for i := range rots {
		r := &rots[i]
		frag, _ := json.Marshal(struct {
			GUID       string `json:"guid"`
			GUIDIssued int64  `json:"guidIssued"`
			PrevGUID   string `json:"prevGuid,omitempty"`
			PrevUntil  int64  `json:"prevUntil,omitempty"`
		}{r.Next, r.Issued, r.Prev, r.PrevUntil})
		args = append(args, r.ID.String(), strconv.FormatUint(r.Gen, 10), jsonText(r.Expect), jsonText(r.Next),
			string(frag[1:len(frag)-1]), r.N, r.Issued, r.PrevUntil)
	}
	return args
}

// jsonText returns s as encoding/json writes it inside quotes.
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
