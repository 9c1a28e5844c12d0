package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/client"
	"github.com/ccgw/ccgw/internal/proctest"
	"github.com/ccgw/ccgw/internal/wait"
)

const bogusGUID = "00000000-0000-0000-0000-000000000000.AgentGateway0"

func TestBackoff(t *testing.T) {
	for _, tt := range []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{1, 0, 500 * time.Millisecond}, // the first failure: [0.5 s, 1 s)
		{1, 0.5, 750 * time.Millisecond},
		{1, 0.999999, 999999500 * time.Nanosecond},
		{2, 0, time.Second}, // [1 s, 2 s)
		{3, 0.5, 3 * time.Second},
		{5, 0, 8 * time.Second},  // [8 s, 16 s)
		{6, 0, 15 * time.Second}, // capped: [15 s, 30 s)
		{6, 0.5, 22500 * time.Millisecond},
		{1000, 0, 15 * time.Second}, // no overflow however many failures
		{1000, 0.999999, 29999985 * time.Microsecond},
	} {
		if got := client.Backoff(tt.n, tt.r); got != tt.want {
			t.Errorf("Backoff(%d, %v) = %v, want %v", tt.n, tt.r, got, tt.want)
		}
	}
}

// eventLog is an Events handler that records event types.
type eventLog struct {
	mu    sync.Mutex
	types []string
}

func (l *eventLog) handle(ev client.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.types = append(l.types, ev.Type)
	return nil
}

func (l *eventLog) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.types, " ")
}

// TestEventsBackoff makes every poll fail (000-003: a GUID the gateway never
// issued) and measures Events' waits on a fake clock: exactly one poll per
// wait, each wait within its failure's bounds, from [0.5 s, 1 s) doubling up
// to [15 s, 30 s). With the right GUID the queued events are handled at once,
// an empty answer waits 300 ms, and the next failure starts from 0.5 s again.
func TestEventsBackoff(t *testing.T) {
	t.Parallel()
	fc, ct := newFakeClock(), &counter{}
	c := newClient(t, gatewayURL, client.WithClock(fc), client.WithHTTPClient(&http.Client{Transport: ct}))
	a := c.Agent("1101")
	if _, err := a.SignIn(context.Background(), client.SignInParams{Password: "p", PhoneNum: "71101"}); err != nil {
		t.Fatal(err)
	}
	good := a.GUID()
	a.SetGUID(bogusGUID)
	base := ct.count()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got eventLog
	errc := make(chan error, 1)
	go func() { errc <- a.Events(ctx, got.handle) }()

	for n := 1; n <= 9; n++ {
		d := fc.next(t)
		if polls := ct.count() - base; polls != n {
			t.Fatalf("wait %d: %d polls sent, want %d", n, polls, n)
		}
		w := min(client.MaxBackoff, time.Second<<(n-1))
		if d < w/2 || d >= w {
			t.Errorf("wait after failure %d: %v, want [%v, %v)", n, d, w/2, w)
		}
		if n == 9 {
			a.SetGUID(good)
		}
		fc.Advance(d)
	}
	d := fc.next(t)
	if d != client.EmptyPollPause {
		t.Errorf("wait after an empty answer: %v, want %v", d, client.EmptyPollPause)
	}
	if polls := ct.count() - base; polls != 12 {
		t.Errorf("%d polls, want 12 (9 failed, 2 events, 1 empty)", polls)
	}
	if got := got.get(); got != ccgw.EvInService+" "+ccgw.EvReady {
		t.Errorf("handled %q", got)
	}
	a.SetGUID(bogusGUID)
	fc.Advance(d)
	if d := fc.next(t); d < client.MinBackoff || d >= 2*client.MinBackoff {
		t.Errorf("wait after a new failure: %v, want [%v, %v)", d, client.MinBackoff, 2*client.MinBackoff)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Events after cancel: %v", err)
	}
	a.SetGUID(good)
	if err := a.SignOut(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestKeepAliveRetries makes heartbeats fail: KeepAlive waits its period
// first, retries after [0.5 s, 1 s) and [1 s, 2 s), never later than its
// period, and after a success waits the period again.
func TestKeepAliveRetries(t *testing.T) {
	t.Parallel()
	fc, ct := newFakeClock(), &counter{}
	c := newClient(t, gatewayURL, client.WithClock(fc), client.WithHTTPClient(&http.Client{Transport: ct}))
	a := c.Agent("1102")
	if _, err := a.SignIn(context.Background(), client.SignInParams{Password: "p", PhoneNum: "71102"}); err != nil {
		t.Fatal(err)
	}
	good := a.GUID()
	a.SetGUID(bogusGUID)
	base := ct.count()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	const every = 2 * time.Second
	go func() { errc <- a.KeepAlive(ctx, every) }()
	for i, want := range [][2]time.Duration{{every, every}, {500 * time.Millisecond, time.Second - 1}, {time.Second, every - 1}, {every, every}, {every, every}} {
		d := fc.next(t)
		if d < want[0] || d > want[1] {
			t.Errorf("wait %d: %v, want [%v, %v]", i, d, want[0], want[1])
		}
		if beats := ct.count() - base; beats != i {
			t.Errorf("wait %d: %d heartbeats sent, want %d", i, beats, i)
		}
		if i == 3 {
			a.SetGUID(good) // the fourth heartbeat succeeds
		}
		fc.Advance(d)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("KeepAlive after cancel: %v", err)
	}
	if err := a.SignOut(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestLoopsStopWhenSignedOut: on 100-006 both loops return the *Error at
// once, after one request and without another wait.
func TestLoopsStopWhenSignedOut(t *testing.T) {
	t.Parallel()
	fc, ct := newFakeClock(), &counter{}
	c := newClient(t, gatewayURL, client.WithClock(fc), client.WithHTTPClient(&http.Client{Transport: ct}))
	a := c.Agent("1103")
	ctx := context.Background()
	if _, err := a.SignIn(ctx, client.SignInParams{Password: "p", PhoneNum: "71103"}); err != nil {
		t.Fatal(err)
	}
	if err := a.SignOut(ctx); err != nil {
		t.Fatal(err)
	}
	base := ct.count()
	err := a.Events(ctx, func(ev client.Event) error {
		t.Errorf("handler called with %+v", ev)
		return nil
	})
	wantCode(t, "Events", err, ccgw.RetNotSignedIn)
	fc.none(t)
	errc := make(chan error, 1)
	go func() { errc <- a.KeepAlive(ctx, 0) }()
	if d := fc.next(t); d != client.HeartbeatEvery {
		t.Errorf("KeepAlive's first wait %v, want %v", d, client.HeartbeatEvery)
	}
	fc.Advance(client.HeartbeatEvery)
	wantCode(t, "KeepAlive", <-errc, ccgw.RetNotSignedIn)
	fc.none(t)
	if n := ct.count() - base; n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

// TestEventsEndOnForcedSignIn: another client force-signs the agent in; the
// first one's Events handles AgentOther_ShutdownService and returns 100-006.
func TestEventsEndOnForcedSignIn(t *testing.T) {
	t.Parallel()
	fc := newFakeClock()
	stop := make(chan struct{})
	defer close(stop)
	fc.run(stop)
	c := newClient(t, gatewayURL, client.WithClock(fc))
	ctx := context.Background()
	p := client.SignInParams{Password: "p", PhoneNum: "71104"}
	a := c.Agent("1104")
	if _, err := a.SignIn(ctx, p); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	var got eventLog
	errc := make(chan error, 1)
	go func() {
		errc <- a.Events(ctx, func(ev client.Event) error {
			if ev.Type == ccgw.EvReady {
				close(ready)
			}
			return got.handle(ev)
		})
	}()
	<-ready
	p.Force = true
	b := c.Agent("1104")
	if _, err := b.SignIn(ctx, p); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "Events", <-errc, ccgw.RetNotSignedIn)
	if want := ccgw.EvInService + " " + ccgw.EvReady + " " + ccgw.EvShutdownService; got.get() != want {
		t.Errorf("handled %q, want %q", got.get(), want)
	}
	if err := b.SignOut(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestEventsDropsDuplicates polls a gateway that answers as scripted: events
// whose sequence numbers were handled are dropped, events without one never
// are, a handler's error ends Events, and a new sign-in restarts the numbering.
func TestEventsDropsDuplicates(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	script := []string{"1 A", "2 B", "2 B", "1 A", "- X", "- X", "3 C", "end", "1 D", "end"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut { // the sign-in
			w.Header()["Set-GUID"] = []string{"JSESSIONID=g"}
			fmt.Fprint(w, `{"message":"","retcode":"0","result":{"workno":"1001"}}`)
			return
		}
		mu.Lock()
		step := script[0]
		script = script[1:]
		mu.Unlock()
		seq, typ, _ := strings.Cut(step, " ")
		if step == "end" {
			fmt.Fprint(w, `{"message":"","retcode":"100-006"}`)
			return
		}
		if seq != "-" {
			w.Header().Set(client.SeqHeader, seq)
		}
		fmt.Fprintf(w, `{"message":"","retcode":"0","event":{"eventType":%q,"workNo":1001,"eventGenTime":"1784529722590","content":null}}`, typ)
	}))
	defer srv.Close()
	ctx := context.Background()
	a := newClient(t, srv.URL).Agent("1001")
	if _, err := a.SignIn(ctx, client.SignInParams{Password: "p", PhoneNum: "1"}); err != nil {
		t.Fatal(err)
	}
	var got eventLog
	check := func(ev client.Event) error {
		if ev.WorkNo != "1001" || ev.GenTime != 1784529722590 {
			t.Errorf("event %+v", ev)
		}
		return got.handle(ev)
	}
	wantCode(t, "Events", a.Events(ctx, check), ccgw.RetNotSignedIn)
	if g := got.get(); g != "A B X X C" {
		t.Errorf("handled %q, want A B X X C", g)
	}
	if _, err := a.SignIn(ctx, client.SignInParams{Password: "p", PhoneNum: "1"}); err != nil {
		t.Fatal(err)
	}
	stopped := errors.New("stopped")
	err := a.Events(ctx, func(ev client.Event) error { check(ev); return stopped })
	if err != stopped || got.get() != "A B X X C D" {
		t.Errorf("after a new sign-in: %v, handled %q", err, got.get())
	}
}

// TestRotationFollowed runs KeepAlive and Events on one Agent, on the real
// clock, against a gateway that rotates GUIDs every 300 ms and accepts a
// superseded one for 1 s: across at least five rotations both loops keep
// running and no request fails (but for a retried 000-003 on a stalled
// machine), state changes made meanwhile arrive with consecutive sequence
// numbers, and the sign-in's GUID is refused at the end.
func TestRotationFollowed(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "--auth-mode", "dynamic", "--guid-interval", "300ms", "--guid-timeout", "1s", "--poll-wait", "100ms")
	var logs proctest.Log
	c := newClient(t, g.url, client.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	a := c.Agent("1105")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := a.SignIn(ctx, client.SignInParams{Password: "p", PhoneNum: "71105"}); err != nil {
		t.Fatal(err)
	}
	first := a.GUID()
	evc := make(chan client.Event, 100)
	kaErr, evErr := make(chan error, 1), make(chan error, 1)
	go func() { kaErr <- a.KeepAlive(ctx, 100*time.Millisecond) }()
	go func() { evErr <- a.Events(ctx, func(ev client.Event) error { evc <- ev; return nil }) }()

	seen := map[string]bool{first: true}
	changed := false
	wait.For(t, 15*time.Second, 10*time.Millisecond, func() error {
		seen[a.GUID()] = true
		if len(seen) >= 3 && !changed { // a state change in between rotations
			changed = true
			if err := a.SayBusy(ctx, 0); err != nil {
				t.Fatal(err)
			}
		}
		if len(seen) < 6 {
			return fmt.Errorf("%d GUIDs seen, want 6", len(seen))
		}
		return nil
	})
	if err := a.SayFree(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{ccgw.EvInService, ccgw.EvReady, ccgw.EvSetNotReadySuccess, ccgw.EvCancelNotReadySuccess, ccgw.EvReady}
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for i, w := range want {
		select {
		case ev := <-evc:
			if ev.Type != w || ev.Seq != uint64(i+1) {
				t.Fatalf("event %d: %s seq %d, want %s seq %d", i, ev.Type, ev.Seq, w, i+1)
			}
		case <-deadline.C:
			t.Fatalf("event %d (%s) not handled within 10s", i, w)
		}
	}
	select {
	case err := <-kaErr:
		t.Fatalf("KeepAlive returned %v", err)
	case err := <-evErr:
		t.Fatalf("Events returned %v", err)
	default:
	}
	// A request can carry a GUID two rotations old only if an answer took
	// longer than a rotation interval to arrive (a stalled machine); the loop
	// then recovers with the next GUID. Anything else is a failure.
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if l != "" && !strings.Contains(l, "000-003") {
			t.Errorf("a request failed across rotations: %s", l)
		} else if l != "" {
			t.Logf("retried: %s", l)
		}
	}
	old := c.Agent("1105")
	old.SetGUID(first)
	_, err := old.Status(ctx)
	wantCode(t, "the sign-in's GUID after rotations", err, ccgw.RetNoPermission)
	cancel()
	if err := <-kaErr; !errors.Is(err, context.Canceled) {
		t.Errorf("KeepAlive after cancel: %v", err)
	}
	if err := <-evErr; !errors.Is(err, context.Canceled) {
		t.Errorf("Events after cancel: %v", err)
	}
	if err := a.SignOut(context.Background()); err != nil {
		t.Fatal(err)
	}
}
