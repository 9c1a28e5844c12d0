package session

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccgw/ccgw"
)

// The feed tells every node of the changes any node commits, for
// Config.OnChange and Config.Tap (the simulated call centre's view of its
// agents, the event journal): the store records every sign-in, change, end
// and event queued in the same write as the change, in the order it committed
// them (ccgw.SharedChange). A node reads on from the last change it delivered,
// so a node that lost the store for a while catches up when it is back, unless
// the store forgot those changes meanwhile: the node then logs that it fell
// behind. Heartbeats and polls change no session and record nothing.

// feedBatch is how many changes one read takes at most.
const feedBatch = 512

// feedState is where this node is in the feed.
type feedState struct {
	// mu guards last. It is held across a read and the hook calls of its
	// changes, which it keeps in the feed's order: one reader at a time.
	mu   sync.Mutex
	last string // the ID of the last change delivered; "" until known
	// owed says a change was committed (Config.Local) while another call
	// held mu: the holder delivers it before it lets go (releaseFeed).
	owed atomic.Bool
}

// hooked reports whether anything on this node reads the feed.
func (s *Service) hooked() bool { return s.cfg.OnChange != nil || s.cfg.Tap != nil }

// startFeed sets where this node starts reading: after the last change that
// exists now, so that it delivers the changes made from now on. New calls it;
// while the store cannot be reached the first read does.
func (s *Service) startFeed(ctx context.Context) error {
	if !s.hooked() {
		return nil
	}
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	return s.startFeedLocked(ctx)
}

func (s *Service) startFeedLocked(ctx context.Context) error {
	if s.feed.last != "" {
		return nil
	}
	last, err := s.db.FeedEnd(ctx)
	if err != nil {
		return err
	}
	s.feed.last = last
	return nil
}

// Deliver calls Config.OnChange and Tap with every change committed (by any
// node) since the last one delivered, in order, and returns how many changes
// it read. Run does this all the time; Deliver is for Service that do not
// Run (tests) and to make sure a change made elsewhere has been seen. A hook
// must not call it.
func (s *Service) Deliver() int {
	if !s.hooked() {
		return 0
	}
	s.feed.mu.Lock()
	n := s.deliverAllLocked()
	s.releaseFeed()
	return n
}

// committed reports a change this node wrote to the hooks at once, with
// Config.Local, and everything else the feed holds by then, in order.
// Deliveries never nest: a hook that changes a session (the simulated call
// centre offering a call to the agent who became idle) has that change
// delivered once it returns, by the loop that called it; and a change made
// while another goroutine delivers is delivered by that goroutine before it
// lets go.
func (s *Service) committed() {
	if !s.cfg.Local || !s.hooked() {
		return
	}
	s.feed.owed.Store(true)
	if !s.feed.mu.TryLock() {
		return // the holder sees owed in releaseFeed
	}
	s.feed.owed.Store(false)
	s.deliverAllLocked()
	s.releaseFeed()
}

// releaseFeed unlocks feed.mu, first delivering the changes committed calls
// left to the holder meanwhile.
func (s *Service) releaseFeed() {
	for {
		s.feed.mu.Unlock()
		if !s.feed.owed.Load() || !s.feed.mu.TryLock() {
			return // none owed, or another call holds mu and will see owed
		}
		s.feed.owed.Store(false)
		s.deliverAllLocked()
	}
}

// deliverAllLocked delivers until the feed has no more; feed.mu must be held.
func (s *Service) deliverAllLocked() int {
	total := 0
	for {
		n, err := s.deliverLocked(context.Background(), 0)
		total += n
		if err != nil || n == 0 {
			return total
		}
	}
}

// deliver reads up to feedBatch changes, waiting up to block for the first if
// block > 0, and calls the hooks with them.
func (s *Service) deliver(ctx context.Context, block time.Duration) (int, error) {
	if !s.hooked() {
		return 0, nil
	}
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	return s.deliverLocked(ctx, block)
}

// deliverLocked is deliver with feed.mu held.
func (s *Service) deliverLocked(ctx context.Context, block time.Duration) (int, error) {
	if err := s.startFeedLocked(ctx); err != nil {
		return 0, err
	}
	changes, err := s.db.FeedRead(ctx, s.feed.last, feedBatch, block)
	if err != nil {
		return 0, err
	}
	for _, c := range changes {
		s.apply(c)
		s.feed.last = c.ID
	}
	return len(changes), nil
}

// apply calls the hook a change is for.
func (s *Service) apply(c ccgw.SharedChange) {
	switch c.Kind {
	case ccgw.ChangeQueued:
		if s.cfg.Tap != nil {
			s.cfg.Tap(c.Event)
		}
	case ccgw.ChangeStored, ccgw.ChangeEnded:
		if s.cfg.OnChange == nil {
			return
		}
		sess, err := decodeSession(c.Record)
		if err != nil {
			return
		}
		if c.Kind == ccgw.ChangeEnded {
			sess.State = ccgw.StateSignedOut
		}
		s.cfg.OnChange(sess)
	}
}

// follow delivers the feed as it grows until ctx ends. After a failed read it
// tries again every 100ms, and once the store answers it says whether changes
// were forgotten before this node read them.
func (s *Service) follow(ctx context.Context) {
	if !s.hooked() {
		return
	}
	broken := false
	for ctx.Err() == nil {
		if broken {
			if s.checkFeedGap(ctx) != nil {
				time.Sleep(100 * time.Millisecond) // reconnect pacing, not synchronisation
				continue
			}
			broken = false
		}
		if _, err := s.deliver(ctx, time.Second); err != nil && ctx.Err() == nil {
			s.cfg.Log.Warn("feed read failed; catching up once the store is back", "err", err)
			broken = true
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// checkFeedGap logs an error if the feed forgot changes this node had not
// read while it could not read.
func (s *Service) checkFeedGap(ctx context.Context) error {
	trimmed, err := s.db.FeedTrimmed(ctx)
	if err != nil {
		return err
	}
	s.feed.mu.Lock()
	last := s.feed.last
	s.feed.mu.Unlock()
	if last != "" && trimmed != "" && feedIDLess(last, trimmed) {
		s.cfg.Log.Error("feed: changes were forgotten before this node read them; the journal and the simulator missed some",
			"last_read", last, "trimmed_to", trimmed)
	}
	return nil
}

// feedIDLess reports whether change ID a ("ms-seq") is before b.
func feedIDLess(a, b string) bool {
	am, as := splitFeedID(a)
	bm, bs := splitFeedID(b)
	return am < bm || (am == bm && as < bs)
}

func splitFeedID(id string) (uint64, uint64) {
	ms, seq, _ := strings.Cut(id, "-")
	m, _ := strconv.ParseUint(ms, 10, 64)
	n, _ := strconv.ParseUint(seq, 10, 64)
	return m, n
}
