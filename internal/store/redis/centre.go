package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// A cluster has one simulated call centre, on the node started with
// --scenario: its calls live in that process. The other nodes carry their
// clients' call control (answer, hold, transfer, release, the call-data
// queries) to it through Redis, so that a client may use any node:
//
//	{prefix}cc:node     the serving node's claim: "<node name>/<random>", PX centreLease
//	{prefix}cc:req      requests, "<id> <body>", served one at a time in order
//	{prefix}cc:t:<id>   a request's ticket: whoever deletes it decides its fate
//	{prefix}cc:r:<id>   the reply list of request id
//
// Ask enqueues a request with its ticket only while a claim lasts, then waits
// askWait for the reply. The serving node deletes the ticket before it runs a
// request, and skips a request whose ticket is gone. An asker that had no reply
// in time deletes the ticket itself: if it could, the request will never run
// and it fails; if it could not, the request is running and it waits askWait
// more. So a request runs at most once, and an asker told it failed knows that
// it did not run unless it also waited out the second askWait.

const (
	centreLease = 5 * time.Second // a claim not renewed for this long lapses
	serveBlock  = time.Second     // the serving loop's wait for a request; it renews the claim at least this often
	askWait     = 5 * time.Second // how long Ask waits for a reply (twice at most)
	ticketTTL   = 2*askWait + serveBlock
)

// ErrCentreTaken is ClaimCentre's answer while another node serves.
var ErrCentreTaken = errors.New("redis: another node runs the simulated call centre")

// errNoReply is Ask's answer when the serving node did not reply in time.
var errNoReply = errors.New("redis: the call centre's node did not answer in time")

// centreClaimScript: ARGV prefix, token, lease ms. Takes or renews the claim;
// returns 1, or 0 while another token holds it.
var centreClaimScript = goredis.NewScript(`
local k = ARGV[1] .. 'cc:node'
local cur = redis.call('GET', k)
if cur and cur ~= ARGV[2] then return 0 end
redis.call('SET', k, ARGV[2], 'PX', tonumber(ARGV[3]))
return 1
`)

// centreDropScript: ARGV prefix, token. Gives the claim up if token holds it.
var centreDropScript = goredis.NewScript(`
local k = ARGV[1] .. 'cc:node'
if redis.call('GET', k) == ARGV[2] then redis.call('DEL', k) end
return 0
`)

// askScript: ARGV prefix, id, body, ticket ms. Enqueues request id with its
// ticket if a node serves; returns 1, else 0.
var askScript = goredis.NewScript(`
local p = ARGV[1]
if not redis.call('GET', p .. 'cc:node') then return 0 end
redis.call('SET', p .. 'cc:t:' .. ARGV[2], '1', 'PX', tonumber(ARGV[4]))
redis.call('RPUSH', p .. 'cc:req', ARGV[2] .. ' ' .. ARGV[3])
return 1
`)

// centre is this node's claim, if it serves.
type centre struct {
	token string        // "" until ClaimCentre
	wait  time.Duration // tests: AskCentre's wait; 0 means askWait
}

// ClaimCentre makes this node the one that serves the simulated call centre
// (ServeCentre). A claim left by a node that stopped lapses after centreLease:
// ClaimCentre waits that long for it, then fails with ErrCentreTaken.
func (s *Store) ClaimCentre(ctx context.Context) error {
	var b [8]byte
	rand.Read(b[:])
	s.centre.token = s.cfg.NodeName + "/" + hex.EncodeToString(b[:])
	end := time.Now().Add(centreLease + serveBlock) // wall time: the lease lapses in Redis's
	for {
		res, err := s.run(ctx, centreClaimScript, s.centre.token, centreLease.Milliseconds())
		if err != nil {
			return err
		}
		if res == int64(1) {
			return nil
		}
		if time.Now().After(end) {
			holder, _ := s.rdb.Get(ctx, s.key+"cc:node").Result()
			return errors.Join(ErrCentreTaken, errors.New("held by "+holder))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ServeCentre answers the requests of every node's AskCentre with h, one at a
// time in the order they came, renewing this node's claim, until ctx ends; then
// it gives the claim up. Call ClaimCentre first.
func (s *Store) ServeCentre(ctx context.Context, h func(req []byte) []byte) {
	renewed := time.Time{}
	for ctx.Err() == nil {
		if time.Since(renewed) >= serveBlock {
			res, err := s.run(ctx, centreClaimScript, s.centre.token, centreLease.Milliseconds())
			switch {
			case err != nil:
			case res == int64(1):
				renewed = time.Now()
			default:
				s.cfg.Log.Error("simulated call centre: another node took the claim", "node", s.cfg.NodeName)
			}
		}
		v, err := s.rdb.BLPop(ctx, serveBlock, s.key+"cc:req").Result()
		if err != nil {
			if !errors.Is(err, goredis.Nil) && ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond) // Redis away: pacing, not synchronisation
			}
			continue
		}
		id, body, ok := strings.Cut(v[1], " ")
		if !ok {
			continue
		}
		if n, err := s.rdb.Del(ctx, s.key+"cc:t:"+id).Result(); err != nil || n != 1 {
			continue // its asker gave up
		}
		rep := h([]byte(body))
		rk := s.key + "cc:r:" + id
		_, err = s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.RPush(ctx, rk, rep)
			p.PExpire(ctx, rk, ticketTTL)
			return nil
		})
		if err != nil {
			s.cfg.Log.Warn("simulated call centre: reply lost", "err", err)
		}
	}
	s.run(context.Background(), centreDropScript, s.centre.token)
}

// AskCentre sends req to the node that serves the simulated call centre and
// returns its reply. served is false if no node serves (the caller answers for
// itself, as a node with no calls). It fails if Redis cannot be reached or the
// serving node does not reply in time (see the protocol above).
func (s *Store) AskCentre(req []byte) (rep []byte, served bool, err error) {
	ctx := context.Background()
	var b [12]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	res, err := s.run(ctx, askScript, id, string(req), ticketTTL.Milliseconds())
	if err != nil {
		return nil, true, err
	}
	if res != int64(1) {
		return nil, false, nil
	}
	rk := s.key + "cc:r:" + id
	wait := s.centre.wait
	if wait <= 0 {
		wait = askWait
	}
	for try := 0; try < 2; try++ {
		v, err := s.rdb.BLPop(ctx, wait, rk).Result()
		if err == nil {
			return []byte(v[1]), true, nil
		}
		if !errors.Is(err, goredis.Nil) {
			return nil, true, unavailable(err)
		}
		if try == 0 {
			if n, err := s.rdb.Del(ctx, s.key+"cc:t:"+id).Result(); err == nil && n == 1 {
				break // never taken: it will not run
			}
		}
	}
	return nil, true, unavailable(errNoReply)
}
