package api_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/api"
)

// abandoning is a session service whose store call is abandoned when the
// caller's context ends, as the Redis store's is.
type abandoning struct{ ccgw.SessionService }

func (abandoning) Heartbeat(ctx context.Context, id ccgw.AgentID, guid, token string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", &ccgw.Error{Code: ccgw.RetInternal, Err: fmt.Errorf("redis: %w", err)}
	}
	return "", &ccgw.Error{Code: ccgw.RetInternal, Err: fmt.Errorf("redis: connection refused")}
}

// TestHungUpClientIsNotAnError: a heartbeat whose client hung up, so that
// its store call was abandoned, is logged at DEBUG, not as the gateway's
// ERROR; a store that fails for a client still waiting is an ERROR.
func TestHungUpClientIsNotAnError(t *testing.T) {
	var logs bytes.Buffer
	h := api.New(api.Config{Sessions: abandoning{}, Directory: agent.Default(),
		Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	beat := func(ctx context.Context) {
		r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/agentgateway/resource/onlineagent/1001/handshake", nil)
		r.Header.Set("Guid", "g")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	beat(gone)
	if !strings.Contains(logs.String(), "level=DEBUG msg=request method=handShake") || strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("a hung-up client's request logged as:\n%s", logs.String())
	}
	logs.Reset()
	beat(context.Background())
	if !strings.Contains(logs.String(), "level=ERROR msg=request method=handShake") || !strings.Contains(logs.String(), "connection refused") {
		t.Fatalf("a store failure logged as:\n%s", logs.String())
	}
}
