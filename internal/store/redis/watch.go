package redis

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ccgw/ccgw"
	goredis "github.com/redis/go-redis/v9"
)

// The nodes hear of each other's changes over two pub/sub channels, published
// by the scripts that make them:
//
//	{prefix}ev    "<id>": events were queued for agent id, or its session ended
//	{prefix}auth  "d id:gen,...": those sign-ins' auth facts changed or they ended;
//	              "r id:gen:n:issued:prevUntil,...": their GUIDs were rotated
//
// Pub/sub loses what is published while a node is not subscribed: a node that
// lost a subscription assumes it missed something.

// WatchEvents implements ccgw.SharedStore with one subscription to the
// channel ev. It returns nil if ctx ended.
func (s *Store) WatchEvents(ctx context.Context, subscribed func(), wake func(ccgw.AgentID)) error {
	return s.listen(ctx, "ev", subscribed, func(payload string) {
		if id, ok := parseID(payload); ok {
			wake(id)
		}
	})
}

// WatchAuth implements ccgw.SharedStore with one subscription to the channel
// auth. It returns nil if ctx ended.
func (s *Store) WatchAuth(ctx context.Context, subscribed func(), changed func(ccgw.SharedAuthChange)) error {
	return s.listen(ctx, "auth", subscribed, func(payload string) {
		for _, c := range parseAuth(payload) {
			changed(c)
		}
	})
}

// silence is how long a subscription may stay silent before listen checks
// it with a PING; a second silence as long ends it.
const silence = 5 * time.Second

// listen subscribes to channel (under the prefix), calls subscribed once
// Redis confirmed it and message with each message's payload, until ctx ends
// (it returns nil) or the subscription fails (it returns why). It receives
// the replies itself rather than through go-redis's Channel, which would
// resubscribe silently and hide that messages may have been lost.
func (s *Store) listen(ctx context.Context, channel string, subscribed func(), message func(string)) error {
	sub := s.rdb.Subscribe(ctx)
	defer sub.Close()
	stop := context.AfterFunc(ctx, func() { sub.Close() })
	defer stop()
	err := sub.Subscribe(ctx, s.key+channel)
	pinged := false
	for err == nil {
		var msg any
		msg, err = sub.ReceiveTimeout(ctx, silence)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && !pinged && ctx.Err() == nil {
			err, pinged = sub.Ping(ctx), true
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" {
				subscribed()
			}
		case *goredis.Message:
			message(m.Payload)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return unavailable(err)
}

// parseAuth decodes a message of the channel auth; items that do not parse
// are left out, and a rotation's that lacks its figures is a plain change.
func parseAuth(payload string) []ccgw.SharedAuthChange {
	kind, list, ok := strings.Cut(payload, " ")
	if !ok || (kind != "d" && kind != "r") {
		return nil
	}
	var out []ccgw.SharedAuthChange
	for item := range strings.SplitSeq(list, ",") {
		f := strings.Split(item, ":")
		if len(f) < 2 {
			continue
		}
		id, ok := parseID(f[0])
		gen, err := strconv.ParseUint(f[1], 10, 64)
		if !ok || err != nil {
			continue
		}
		c := ccgw.SharedAuthChange{ID: id, Gen: gen}
		if kind == "r" && len(f) == 5 {
			n, err1 := strconv.ParseUint(f[2], 10, 32)
			issued, err2 := strconv.ParseInt(f[3], 10, 64)
			until, err3 := strconv.ParseInt(f[4], 10, 64)
			if err1 == nil && err2 == nil && err3 == nil {
				c.Rotated, c.N, c.Issued, c.PrevUntil = true, uint32(n), issued, until
			}
		}
		out = append(out, c)
	}
	return out
}
