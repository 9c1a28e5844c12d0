package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/sim"
	"github.com/ccgw/ccgw/internal/store/bolt"
)

// rtServer is a Server with every route table (call interfaces included).
func rtServer(t *testing.T) *Server {
	t.Helper()
	st, err := bolt.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir := agent.Default()
	sm, err := session.New(session.Config{Store: st, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{Sessions: sm, Directory: dir, Calls: sim.New(sim.Config{Sessions: sm, Directory: dir})})
}

// rtPath fills a route's pattern: {agentid} with agent, other variables with 1.
func rtPath(rt *route, agent string) string {
	parts := make([]string, len(rt.segs))
	for i, p := range rt.segs {
		switch {
		case p == "{agentid}":
			parts[i] = agent
		case strings.HasPrefix(p, "{"):
			parts[i] = "1"
		default:
			parts[i] = p
		}
	}
	return "/" + strings.Join(parts, "/")
}

func rtEnvelope(t *testing.T, rec *httptest.ResponseRecorder) ccgw.Retcode {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != contentType {
		t.Fatalf("Content-Type %q", ct)
	}
	var env struct {
		Retcode ccgw.Retcode `json:"retcode"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	return env.Retcode
}

// TestEveryRouteRefusesWrongMethodAndBadAgent drives every route of every table:
// each other method gets 405 with an Allow header naming the route's method and
// the 000-002 envelope; a work number outside 101–999999 or not numeric gets
// 000-002 (HTTP 200); the right method with a valid agent and no session never
// gets 000-002 for its path.
func TestEveryRouteRefusesWrongMethodAndBadAgent(t *testing.T) {
	s := rtServer(t)
	seen := 0
	for _, routes := range s.routes {
		for _, rt := range routes {
			seen++
			t.Run(rt.name+" "+rt.method, func(t *testing.T) {
				for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
					if m == rt.method || s.hasRoute(m, rtPath(rt, "1001")) {
						continue
					}
					rec := httptest.NewRecorder()
					s.ServeHTTP(rec, httptest.NewRequest(m, rtPath(rt, "1001"), nil))
					if rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Header().Get("Allow"), rt.method) {
						t.Fatalf("%s %s: status %d Allow %q", m, rtPath(rt, "1001"), rec.Code, rec.Header().Get("Allow"))
					}
					if code := rtEnvelope(t, rec); code != ccgw.RetBadParam {
						t.Fatalf("%s: retcode %s", m, code)
					}
				}
				for _, bad := range []string{"abc", "100", "1000000", "10a1"} {
					rec := httptest.NewRecorder()
					s.ServeHTTP(rec, httptest.NewRequest(rt.method, rtPath(rt, bad), strings.NewReader("{}")))
					if rec.Code != http.StatusOK {
						t.Fatalf("agent %q: status %d", bad, rec.Code)
					}
					if code := rtEnvelope(t, rec); code != ccgw.RetBadParam {
						t.Fatalf("agent %q: retcode %s", bad, code)
					}
				}
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, httptest.NewRequest(rt.method, rtPath(rt, "1001"), strings.NewReader("{}")))
				if rec.Code != http.StatusOK || !rtEnvelope(t, rec).Known() {
					t.Fatalf("valid request: status %d body %s", rec.Code, rec.Body)
				}
			})
		}
	}
	if seen < 45 {
		t.Fatalf("only %d routes", seen)
	}
}

// hasRoute reports whether method and path name a route.
func (s *Server) hasRoute(method, path string) bool {
	rt, _ := s.match(method, path, &call{})
	return rt != nil
}
