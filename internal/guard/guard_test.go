package guard_test

import (
	"testing"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/guard"
	"github.com/ccgw/ccgw/internal/session/lockouttest"
)

// TestMemLockouts runs the LockoutStore suite on the in-memory store.
func TestMemLockouts(t *testing.T) {
	lockouttest.Run(t, func(*testing.T) ccgw.LockoutStore { return guard.NewMemLockouts() })
}
