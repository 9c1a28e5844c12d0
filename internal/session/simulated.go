package session

import (
	"github.com/ccgw/ccgw"
)

// A simulated agent (Session.Simulated: the simulated call centre signed it in)
// has no client: nothing heartbeats it and nothing polls its events.

// queueMax is the bound on sess's event queue that the store is given: -1
// for a simulated agent, whose events only go to the feed (feed.go), for the
// journal; nobody would take them from a queue.
func queueMax(size int, sess *ccgw.Session) int {
	if sess.Simulated {
		return -1
	}
	return size
}
