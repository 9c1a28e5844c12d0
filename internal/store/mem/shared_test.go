package mem

import (
	"testing"

	"github.com/ccgw/ccgw/internal/store/sharedtest"
)

// TestSharedStoreContract runs the ccgw.SharedStore suite on Shared, both
// nodes on the one store, as the Redis store runs it on a real redis-server.
func TestSharedStoreContract(t *testing.T) {
	sharedtest.Run(t, func(t *testing.T) sharedtest.Pair {
		s := NewShared()
		return sharedtest.Pair{A: s, B: s}
	})
}
