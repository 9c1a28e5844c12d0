package mem

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ccgw/ccgw"
)

// feedLen is about how many changes the feed keeps, as on Redis.
const feedLen = 10000

// watchBuffer is how many notifications a watcher may fall behind by before
// its subscription is lost (Redis drops a subscriber that reads too slowly).
const watchBuffer = 1 << 14

// watcher is one subscription to the events' or the auth changes' channel.
type watcher struct {
	auth bool
	ch   chan ccgw.SharedAuthChange // for events, only ID is set
	lost chan struct{}              // closed when it fell too far behind
}

// dropped tells the auth watchers that sign-ins' auth facts changed.
func (s *Shared) dropped(cs ...ccgw.SharedAuthChange) {
	for _, c := range cs {
		s.publish(true, c)
	}
}

// publish sends c to every watcher of the auth changes (auth) or of the
// events. A watcher too far behind loses its subscription.
func (s *Shared) publish(auth bool, c ccgw.SharedAuthChange) {
	for w := range s.subs {
		if w.auth != auth {
			continue
		}
		select {
		case w.ch <- c:
		default:
			close(w.lost)
			delete(s.subs, w)
		}
	}
}

// record appends c to the feed.
func (s *Shared) record(c ccgw.SharedChange) {
	s.feedN++
	c.ID = feedID(s.feedN)
	s.feed = append(s.feed, c)
	if len(s.feed) > feedLen+feedLen/10 {
		cut := len(s.feed) - feedLen
		s.feedTrimmed = s.feedN - uint64(feedLen) // the last forgotten
		s.feed = slices.Delete(s.feed, 0, cut)
	}
	close(s.feedGrew)
	s.feedGrew = make(chan struct{})
}

func feedID(n uint64) string { return strconv.FormatUint(n, 10) + "-0" }

// feedNum returns the number of change ID id ("0-0": 0).
func feedNum(id string) uint64 {
	ms, _, _ := strings.Cut(id, "-")
	n, _ := strconv.ParseUint(ms, 10, 64)
	return n
}

// FeedEnd implements ccgw.SharedStore.
func (s *Shared) FeedEnd(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return feedID(s.feedN), nil
}

// FeedRead implements ccgw.SharedStore.
func (s *Shared) FeedRead(ctx context.Context, after string, limit int, block time.Duration) ([]ccgw.SharedChange, error) {
	n := feedNum(after)
	var timeout <-chan time.Time
	for {
		s.mu.Lock()
		first := 0 // the index of the change numbered n+1
		if len(s.feed) > 0 {
			first = int(int64(n) + 1 - int64(feedNum(s.feed[0].ID)))
		}
		first = max(first, 0)
		if first < len(s.feed) {
			out := slices.Clone(s.feed[first:min(first+limit, len(s.feed))])
			s.mu.Unlock()
			return out, nil
		}
		grew := s.feedGrew
		s.mu.Unlock()
		if block <= 0 {
			return nil, nil
		}
		if timeout == nil {
			t := time.NewTimer(block)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-grew:
		case <-timeout:
			return nil, nil
		case <-ctx.Done():
			return nil, &ccgw.Error{Code: ccgw.RetInternal, Err: ctx.Err()}
		}
	}
}

// FeedTrimmed implements ccgw.SharedStore.
func (s *Shared) FeedTrimmed(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.feedTrimmed == 0 {
		return "", nil
	}
	return feedID(s.feedTrimmed), nil
}

// WatchEvents implements ccgw.SharedStore.
func (s *Shared) WatchEvents(ctx context.Context, subscribed func(), wake func(ccgw.AgentID)) error {
	return s.watch(ctx, false, subscribed, func(c ccgw.SharedAuthChange) { wake(c.ID) })
}

// WatchAuth implements ccgw.SharedStore.
func (s *Shared) WatchAuth(ctx context.Context, subscribed func(), changed func(ccgw.SharedAuthChange)) error {
	return s.watch(ctx, true, subscribed, changed)
}

// errLost is a watch's end when it fell too far behind.
var errLost = &ccgw.Error{Code: ccgw.RetInternal, Err: errors.New("mem: a watcher fell too far behind")}

func (s *Shared) watch(ctx context.Context, auth bool, subscribed func(), fn func(ccgw.SharedAuthChange)) error {
	w := &watcher{auth: auth, ch: make(chan ccgw.SharedAuthChange, watchBuffer), lost: make(chan struct{})}
	s.mu.Lock()
	s.subs[w] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, w)
		s.mu.Unlock()
	}()
	subscribed()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-w.ch:
			fn(c)
		case <-w.lost:
			for {
				select { // what it was sent before it fell behind
				case c := <-w.ch:
					fn(c)
				default:
					return errLost
				}
			}
		}
	}
}
