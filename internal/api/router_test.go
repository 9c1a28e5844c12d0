package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// rtMetrics is the body of oaServer's metrics handler.
const rtMetrics = "ccgw_test 1\n"

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
	s := oaServer(t)
	seen := 0
	for _, routes := range s.routes.byKey {
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
	rt, _ := s.routes.match(method, path, &call{})
	return rt != nil
}

// rtServe sends one request to h and returns the recorder. A request to the
// event stream, which answers until its client goes, goes after 100 ms.
func rtServe(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if strings.Contains(path, "/stream") {
		ctx, cancel := context.WithTimeout(req.Context(), 100*time.Millisecond)
		defer cancel()
		req = req.WithContext(ctx)
	}
	h.ServeHTTP(rec, req)
	return rec
}

// rtNotFound are the admin routes whose item rtPath names does not exist
// (call 1, agent 1001 not signed in nor seen, fault 1): HTTP 404 is their
// answer.
var rtNotFound = map[string]bool{"admin.call": true, "admin.hangup": true, "admin.forceOut": true,
	"admin.client": true, "admin.clientRequests": true, "admin.removeFault": true}

// TestAdminRoutesRefuseWrongMethod drives every admin route as
// TestEveryRouteRefusesWrongMethodAndBadAgent drives the vendor's: each other
// method gets 405 with an Allow header naming the route's method and the
// 000-002 envelope; a path no route has gets 404 and 000-002.
func TestAdminRoutesRefuseWrongMethod(t *testing.T) {
	s := oaServer(t)
	h := s.AdminHandler()
	seen := 0
	for _, routes := range s.adminRoutes.byKey {
		for _, rt := range routes {
			seen++
			path := rtPath(rt, "1001")
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
				if m == rt.method || s.hasAdminRoute(m, path) {
					continue
				}
				rec := rtServe(h, m, path, "")
				if rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Header().Get("Allow"), rt.method) {
					t.Errorf("%s %s: status %d Allow %q, want 405 naming %s", m, path, rec.Code, rec.Header().Get("Allow"), rt.method)
				}
				if code := rtEnvelope(t, rec); code != ccgw.RetBadParam {
					t.Errorf("%s %s: retcode %s", m, path, code)
				}
			}
			if rec := rtServe(h, rt.method, path+"/", "{}"); rec.Code == http.StatusNotFound && !rtNotFound[rt.name] {
				t.Errorf("%s %s/ (trailing slash): 404", rt.method, path)
			}
		}
	}
	if seen != 22 {
		t.Fatalf("%d admin routes, want 22", seen)
	}
	for _, p := range []string{"/ccgw/v1/", "/ccgw/v1", "/ccgw/v1/nothing", "/ccgw/v1/clock/advance/now", "/ccgw/v1/calls/1/2",
		"/ccgw/v2/clock", "/ccgw/v1//", "/agentgateway/resource/onlineagent/1001", "/metricsx"} {
		rec := rtServe(h, http.MethodGet, p, "")
		if rec.Code != http.StatusNotFound || rtEnvelope(t, rec) != ccgw.RetBadParam {
			t.Errorf("GET %s: status %d %s, want 404 000-002", p, rec.Code, rec.Body)
		}
	}
}

// hasAdminRoute reports whether method and path name an admin route.
func (s *Server) hasAdminRoute(method, path string) bool {
	rt, _ := s.adminRoutes.match(method, path, &call{})
	return rt != nil
}

// TestVendorHandlerHidesAdmin: the vendor handler answers every admin path and
// /metrics, with any method, exactly as an unknown path (404, 000-002), while
// the admin handler serves them, and both serve /healthz and /readyz.
func TestVendorHandlerHidesAdmin(t *testing.T) {
	s := oaServer(t)
	admin := s.AdminHandler()
	unknown := rtServe(s, http.MethodGet, "/nothing", "")
	paths := []string{"/metrics", "//metrics", "/metrics/", "//ccgw/v1/clock"}
	for _, routes := range s.adminRoutes.byKey {
		for _, rt := range routes {
			paths = append(paths, rtPath(rt, ""))
		}
	}
	for _, p := range paths {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
			rec := rtServe(s, m, p, "{}")
			if rec.Code != unknown.Code || rec.Body.String() != unknown.Body.String() || rec.Header().Get("Allow") != "" {
				t.Errorf("vendor %s %s: %d %q Allow %q, want as an unknown path: %d %q",
					m, p, rec.Code, rec.Body, rec.Header().Get("Allow"), unknown.Code, unknown.Body)
			}
		}
	}
	if rec := rtServe(admin, http.MethodGet, "/metrics", ""); rec.Code != http.StatusOK || rec.Body.String() != rtMetrics {
		t.Errorf("admin GET /metrics: %d %q", rec.Code, rec.Body)
	}
	if rec := rtServe(admin, http.MethodGet, "/ccgw/v1/clock", ""); rec.Code != http.StatusOK || rtEnvelope(t, rec) != ccgw.RetOK {
		t.Errorf("admin GET /ccgw/v1/clock: %d %s", rec.Code, rec.Body)
	}
	for _, h := range []http.Handler{s, admin} {
		for _, p := range []string{"/healthz", "/readyz"} {
			if rec := rtServe(h, http.MethodGet, p, ""); rec.Code != http.StatusOK || rtEnvelope(t, rec) != ccgw.RetOK {
				t.Errorf("%T GET %s: %d %s", h, p, rec.Code, rec.Body)
			}
		}
	}
}
