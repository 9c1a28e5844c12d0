package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/api"
)

// Helpers of the live view's and the web console's tests (live_test.go,
// console_test.go): the real api, sessions, simulator, report and faults,
// wired as cmd/ccgw wires them, the admin handler on its own loopback server.

// lvNewServer starts a gateway with the simulator (newSimServer) for these
// tests: the workbench wired and a journal of 10000 events unless cfg sets
// one; cfg's other options as given.
func lvNewServer(tb testing.TB, cfg simConfig) *simServer {
	tb.Helper()
	cfg.workbench = true
	if cfg.journal == 0 {
		cfg.journal = 10000
	}
	return newSimServer(tb, cfg)
}

// lvAdmin sends an admin request (path under /ccgw/v1/) with headers h and
// returns the answer.
func (ls *simServer) lvAdmin(tb testing.TB, method, path string, h hdr, body string) *tResp {
	tb.Helper()
	return ls.admin.do(tb, method, api.AdminPrefix+path, h, body)
}

// lvResult requires HTTP 200 and retcode 0 of r and decodes its result into out.
func lvResult(tb testing.TB, r *tResp, out any) {
	tb.Helper()
	mustCode(tb, r, "0")
	if err := json.Unmarshal(r.env["result"], out); err != nil {
		tb.Fatalf("result %s: %v", r.env["result"], err)
	}
}

// lvMust fails tb unless r has HTTP status and retcode code.
func lvMust(tb testing.TB, what string, r *tResp, status int, code string) {
	tb.Helper()
	if r.status != status || r.retcode() != code {
		tb.Fatalf("%s: HTTP %d %s, want %d %s", what, r.status, r.body, status, code)
	}
}

// lvStream is an open GET /ccgw/v1/stream, read line by line.
type lvStream struct {
	resp   *http.Response
	lines  chan string // closed when the body ends
	cancel context.CancelFunc
}

// lvOpenStream opens the stream with headers h (path may carry a query) and
// returns it whatever its status; the test's end closes it.
func (ls *simServer) lvOpenStream(tb testing.TB, query string, h hdr) *lvStream {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ls.admin.URL+api.AdminPrefix+"stream"+query, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := ls.admin.srv.Client().Do(req)
	if err != nil {
		cancel()
		tb.Fatalf("GET stream: %v", err)
	}
	s := &lvStream{resp: resp, lines: make(chan string, 1024), cancel: cancel}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	tb.Cleanup(s.close)
	return s
}

// close ends the stream from the client's side.
func (s *lvStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next returns the stream's next line, failing tb if none comes within 10 s
// or the stream ends.
func (s *lvStream) next(tb testing.TB) string {
	tb.Helper()
	select {
	case l, ok := <-s.lines:
		if !ok {
			tb.Fatal("the stream ended")
		}
		return l
	case <-time.After(10 * time.Second):
		tb.Fatal("no line within 10 s")
	}
	return ""
}

// lvEvent is one event of the stream: its id and the decoded data.
type lvEvent struct {
	id string
	ev ccgw.Event
}

// nextEvent skips lines up to the next event and returns it: exactly an
// "id:" line, a "data:" line and an empty line.
func (s *lvStream) nextEvent(tb testing.TB) lvEvent {
	tb.Helper()
	for {
		l := s.next(tb)
		id, ok := strings.CutPrefix(l, "id: ")
		if !ok {
			continue
		}
		data, ok := strings.CutPrefix(s.next(tb), "data: ")
		if !ok {
			tb.Fatalf("after id %s: no data line", id)
		}
		if end := s.next(tb); end != "" {
			tb.Fatalf("event %s: %q after its data line, want an empty line", id, end)
		}
		var e lvEvent
		e.id = id
		dec := json.NewDecoder(strings.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e.ev); err != nil {
			tb.Fatalf("event %s: data %q: %v", id, data, err)
		}
		return e
	}
}

// lvGet sends a request to the admin listener's path (the whole path, not
// under /ccgw/v1/) with headers h ("Host" sets the request's Host), reads the
// whole answer and returns it, whatever it is.
func (ls *simServer) lvGet(tb testing.TB, method, path string, h hdr, body string) (*http.Response, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, ls.admin.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range h {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := ls.admin.srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	return resp, b
}
