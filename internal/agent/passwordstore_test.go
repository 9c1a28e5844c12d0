package agent_test

import (
	"testing"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/agent/passwordtest"
)

// TestMemPasswords runs the PasswordStore suite on the in-memory store.
func TestMemPasswords(t *testing.T) {
	passwordtest.Run(t, func(*testing.T) ccgw.PasswordStore { return agent.NewMemPasswords() })
}
