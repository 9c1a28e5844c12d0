package client_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/client"
	"github.com/ccgw/ccgw/internal/wait"
)

// sign returns a signature header for body at t, computed here rather than by
// the package, so that the test checks the documented scheme.
func sign(secret []byte, body string, t time.Time) string {
	ms := strconv.FormatInt(t.UnixMilli(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ms + "." + body))
	return "t=" + ms + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// delivered records what a push handler delivered.
type delivered struct {
	mu   sync.Mutex
	list []string // "workNo type seq"
	fail error    // returned by the next deliver, then cleared
}

func (d *delivered) deliver(workNo string, evs []client.Event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.fail; err != nil {
		d.fail = nil
		return err
	}
	for _, ev := range evs {
		d.list = append(d.list, fmt.Sprintf("%s %s %d", workNo, ev.Type, ev.Seq))
	}
	return nil
}

// take returns what was delivered since the last take.
func (d *delivered) take() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := strings.Join(d.list, ", ")
	d.list = nil
	return s
}

// push sends body to h with the headers in kv (name, value, …) and returns the
// retcode of the answer, checking its shape.
func push(tb testing.TB, h http.Handler, method, body string, kv ...string) string {
	tb.Helper()
	return check(tb, send(h, method, body, kv...))
}

// send serves one push to h and returns the answer.
func send(h http.Handler, method, body string, kv ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/events", strings.NewReader(body))
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header.Set(kv[i], kv[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// check returns the retcode of a push handler's answer w, checking its shape.
func check(tb testing.TB, w *httptest.ResponseRecorder) string {
	tb.Helper()
	var ans struct {
		Message *string `json:"message"`
		Retcode string  `json:"retcode"`
	}
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") ||
		json.Unmarshal(w.Body.Bytes(), &ans) != nil || ans.Message == nil {
		tb.Fatalf("answer: HTTP %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if ans.Retcode == "0" && w.Body.String() != `{"message":"success","retcode":"0"}` {
		tb.Errorf("success answer %s", w.Body)
	}
	return ans.Retcode
}

func listBody(workNo string, types ...string) string {
	evs := make([]string, len(types))
	for i, t := range types {
		evs[i] = fmt.Sprintf(`{"eventType":%q,"eventGenTime":1784529722590,"workNo":%q,"content":null}`, t, workNo)
	}
	return fmt.Sprintf(`{"workNo":%q,"eventList":[%s]}`, workNo, strings.Join(evs, ","))
}

// TestPushSignature: with a secret, a push needs a signature of its body by
// that secret, made within 5 minutes (either way) of the receiver's clock.
func TestPushSignature(t *testing.T) {
	t.Parallel()
	secret := []byte("s3cret")
	fc := newFakeClock()
	now := fc.Now()
	var d delivered
	h := client.NewPushHandler(secret, d.deliver, fc, 100)
	body := listBody("1001", ccgw.EvReady)
	good := sign(secret, body, now)
	for _, tt := range []struct {
		name, sig, want string
	}{
		{"good", good, "0"},
		{"5 minutes old", sign(secret, body, now.Add(-client.MaxSignatureAge)), "0"},
		{"stale", sign(secret, body, now.Add(-client.MaxSignatureAge-time.Millisecond)), "000-003"},
		{"from the future", sign(secret, body, now.Add(client.MaxSignatureAge+time.Millisecond)), "000-003"},
		{"other secret", sign([]byte("other"), body, now), "000-003"},
		{"other body", sign(secret, body+" ", now), "000-003"},
		{"other time", strings.Replace(good, "t=", "t=1", 1), "000-003"},
		{"none", "", "000-003"},
		{"not hex", "t=" + strconv.FormatInt(now.UnixMilli(), 10) + ",v1=zz", "000-003"},
		{"no time", good[strings.Index(good, "v1="):], "000-003"},
		{"second v1 right", strings.Replace(good, "v1=", "v1=00ff,v1=", 1), "0"},
	} {
		var kv []string
		if tt.sig != "" {
			kv = []string{client.SignatureHeader, tt.sig}
		}
		if got := push(t, h, http.MethodPost, body, kv...); got != tt.want {
			t.Errorf("%s: retcode %s, want %s", tt.name, got, tt.want)
		}
		want := ""
		if tt.want == "0" {
			want = "1001 AgentState_Ready 0"
		}
		if got := d.take(); got != want {
			t.Errorf("%s: delivered %q, want %q", tt.name, got, want)
		}
	}
	open := client.NewPushHandler(nil, d.deliver, fc, 100)
	if got := push(t, open, http.MethodPost, body); got != "0" || d.take() != "1001 AgentState_Ready 0" {
		t.Errorf("without a secret, an unsigned push: %s", got)
	}
}

// TestPushDuplicates sends pushes as ccgw retries them: what was delivered is
// dropped (answered as a success), a retry with more events delivers only the
// new ones, a push starting at 1 with another Guid starts a new sign-in's
// numbering, and pushes without a sequence number are always delivered.
func TestPushDuplicates(t *testing.T) {
	t.Parallel()
	var d delivered
	h := client.NewPushHandler(nil, d.deliver, newFakeClock(), 100)
	for i, tt := range []struct {
		workNo, seq, guid string
		types             []string
		want              string
	}{
		{"1001", "1", "G1", []string{"A", "B"}, "1001 A 1, 1001 B 2"},
		{"1001", "1", "G1", []string{"A", "B"}, ""},                                                            // the same push again
		{"1001", "2", "G1", []string{"B", "C"}, "1001 C 3"},                                                    // again, with what came meanwhile
		{"1001", "4", "G1", []string{"D"}, "1001 D 4"},                                                         //
		{"1001", "3", "G1", []string{"C"}, ""},                                                                 // late
		{"1002", "1", "G9", []string{"A"}, "1002 A 1"},                                                         // work numbers apart
		{"1001", "1", "G2", []string{"A"}, "1001 A 1"},                                                         // a new sign-in
		{"1001", "2", "G2", []string{"B"}, "1001 B 2"},                                                         //
		{"1001", "1", "G2", []string{"A", "B", "C"}, "1001 C 3"},                                               // its first push again, with more
		{"1001", "1", "", []string{"A"}, "1001 A 1"},                                                           // without Guid: a new sign-in
		{"1001", "", "G2", []string{"X"}, "1001 X 0"},                                                          // no sequence number
		{"1001", "", "G2", []string{"X"}, "1001 X 0"},                                                          //
		{"1001", "x", "G2", []string{"Y"}, "1001 Y 0"},                                                         // not a number: none
		{"1001", "2", "G3", []string{"B"}, "1001 B 2"},                                                         //
		{"1001", "3", "G3", []string{}, ""},                                                                    // an empty list
		{"1001", "3", "G3", []string{"C"}, "1001 C 3"},                                                         //
		{"1001", "1", "JSESSIONID=G2", []string{"A", "B", "C", "D"}, "1001 A 1, 1001 B 2, 1001 C 3, 1001 D 4"}, // the last first push was the one without Guid
	} {
		kv := []string{"Guid", tt.guid}
		if tt.seq != "" {
			kv = append(kv, client.SeqHeader, tt.seq)
		}
		if got := push(t, h, http.MethodPost, listBody(tt.workNo, tt.types...), kv...); got != "0" {
			t.Errorf("push %d: retcode %s", i, got)
		}
		if got := d.take(); got != tt.want {
			t.Errorf("push %d (%s seq %s %v): delivered %q, want %q", i, tt.workNo, tt.seq, tt.types, got, tt.want)
		}
	}
}

// TestPushDeliverFails: a push whose deliver fails is refused (100-007) and
// not remembered, so the gateway's retry delivers it.
func TestPushDeliverFails(t *testing.T) {
	t.Parallel()
	d := delivered{fail: errors.New("database down")}
	h := client.NewPushHandler(nil, d.deliver, newFakeClock(), 100)
	body := listBody("1001", "A")
	if got := push(t, h, http.MethodPost, body, client.SeqHeader, "7"); got != "100-007" {
		t.Errorf("failed delivery: retcode %s, want 100-007", got)
	}
	if got := push(t, h, http.MethodPost, body, client.SeqHeader, "7"); got != "0" || d.take() != "1001 A 7" {
		t.Errorf("retry: retcode %s", got)
	}
	if got := push(t, h, http.MethodPost, body, client.SeqHeader, "7"); got != "0" || d.take() != "" {
		t.Errorf("retry after delivery: retcode %s", got)
	}
}

// TestPushOneAtATime: while deliver runs for a work number, another push for
// it is refused (000-007, so that the gateway retries it later) and pushes for
// other work numbers go through.
func TestPushOneAtATime(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	var d delivered
	h := client.NewPushHandler(nil, func(workNo string, evs []client.Event) error {
		if workNo == "1001" {
			close(entered)
			<-release
		}
		return d.deliver(workNo, evs)
	}, newFakeClock(), 100)
	first := make(chan *httptest.ResponseRecorder, 1)
	go func() { first <- send(h, http.MethodPost, listBody("1001", "A"), client.SeqHeader, "1") }()
	<-entered
	if got := push(t, h, http.MethodPost, listBody("1001", "A", "B"), client.SeqHeader, "1"); got != "000-007" {
		t.Errorf("a second push while delivering: %s, want 000-007", got)
	}
	if got := push(t, h, http.MethodPost, listBody("1002", "A"), client.SeqHeader, "1"); got != "0" {
		t.Errorf("another agent's push: %s", got)
	}
	close(release)
	if got := check(t, <-first); got != "0" {
		t.Errorf("the first push: %s", got)
	}
	if got := d.take(); got != "1002 A 1, 1001 A 1" {
		t.Errorf("delivered %q", got)
	}
}

// TestPushForgets: beyond its bound the handler forgets the work number pushed
// to least recently, and delivers its late duplicate again.
func TestPushForgets(t *testing.T) {
	t.Parallel()
	var d delivered
	h := client.NewPushHandler(nil, d.deliver, newFakeClock(), 2)
	send := func(workNo string) string {
		if got := push(t, h, http.MethodPost, listBody(workNo, "A"), client.SeqHeader, "1", "Guid", "G"); got != "0" {
			t.Fatalf("push for %s: %s", workNo, got)
		}
		return d.take()
	}
	for _, w := range []string{"1001", "1002", "1003"} {
		send(w)
	}
	if got := send("1003"); got != "" {
		t.Errorf("1003's duplicate delivered: %q", got)
	}
	if got := send("1001"); got != "1001 A 1" {
		t.Errorf("1001, forgotten: delivered %q", got)
	}
}

// TestPushBodies: the older single-event envelope is taken (its work number
// from the event); anything that is not a push is refused with 000-002.
func TestPushBodies(t *testing.T) {
	t.Parallel()
	var d delivered
	var got []client.Event
	h := client.NewPushHandler(nil, func(workNo string, evs []client.Event) error {
		got = append(got, evs...)
		return d.deliver(workNo, evs)
	}, newFakeClock(), 100)
	legacy := `{"message":"","retcode":"0","event":{"eventType":"AgentEvent_Call_Release","workNo":"1001","content":"1476838963-224"}}`
	if r := push(t, h, http.MethodPost, legacy, client.SeqHeader, "5"); r != "0" || d.take() != "1001 AgentEvent_Call_Release 5" {
		t.Fatalf("legacy envelope: %s", r)
	}
	if ev := got[0]; string(ev.Content) != `"1476838963-224"` || ev.WorkNo != "1001" || ev.GenTime != 0 {
		t.Errorf("legacy event %+v", ev)
	}
	list := `{"workNo":"1002","eventList":[{"eventType":"AgentState_Ready","content":{"a":1}}]}`
	if r := push(t, h, http.MethodPost, list); r != "0" || got[1].WorkNo != "1002" || string(got[1].Content) != `{"a":1}` {
		t.Errorf("an event without workNo takes the push's: %s %+v", r, got[1])
	}
	d.take()
	for _, tt := range []struct{ name, method, body string }{
		{"GET", http.MethodGet, listBody("1001", "A")},
		{"not JSON", http.MethodPost, "<xml/>"},
		{"empty object", http.MethodPost, `{}`},
		{"no work number", http.MethodPost, `{"eventList":[]}`},
		{"no event type", http.MethodPost, `{"workNo":"1001","eventList":[{"workNo":"1001"}]}`},
		{"null event", http.MethodPost, `{"message":"","retcode":"0","event":null}`},
		{"legacy without work number", http.MethodPost, `{"retcode":"0","event":{"eventType":"A"}}`},
		{"event list not a list", http.MethodPost, `{"workNo":"1001","eventList":{}}`},
		{"too large", http.MethodPost, `{"workNo":"` + strings.Repeat("1", 8<<20) + `","eventList":[]}`},
	} {
		if r := push(t, h, tt.method, tt.body); r != "000-002" {
			t.Errorf("%s: retcode %s, want 000-002", tt.name, r)
		}
	}
	if s := d.take(); s != "" {
		t.Errorf("refused pushes delivered %q", s)
	}
}

// receiver is a loopback callback receiver around a PushHandler that records
// every answer it gave.
type receiver struct {
	srv     *httptest.Server
	evs     chan client.Event
	mu      sync.Mutex
	answers []string
}

func newReceiver(tb testing.TB, secret []byte) *receiver {
	rc := &receiver{evs: make(chan client.Event, 100)}
	h := client.PushHandler(secret, func(workNo string, evs []client.Event) error {
		for _, ev := range evs {
			if ev.WorkNo != workNo {
				tb.Errorf("event of %s in a push for %s", ev.WorkNo, workNo)
			}
			rc.evs <- ev
		}
		return nil
	})
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		rc.mu.Lock()
		rc.answers = append(rc.answers, rec.Body.String())
		rc.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	tb.Cleanup(rc.srv.Close)
	return rc
}

// expect waits up to 10 s for the events of types want, in order, with
// sequence numbers from seq on.
func (rc *receiver) expect(tb testing.TB, seq uint64, want ...string) []client.Event {
	tb.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	var got []client.Event
	for i, w := range want {
		select {
		case ev := <-rc.evs:
			if ev.Type != w || ev.Seq != seq+uint64(i) {
				tb.Fatalf("pushed %s seq %d, want %s seq %d", ev.Type, ev.Seq, w, seq+uint64(i))
			}
			got = append(got, ev)
		case <-deadline.C:
			tb.Fatalf("%s not pushed within 10s", w)
		}
	}
	return got
}

// TestPushFromGateway signs agents in to the shared gateway in push mode (its
// pushes are signed) with receivers on loopback: callBackUri pushes arrive in
// {workNo, eventList} with sequence numbers; heartbeats carry the service
// token; polling a push-mode session is 000-001, which ends Events; a pushUrl
// sign-in's single-event envelopes arrive too; and a receiver with the wrong
// secret refuses every push and delivers nothing.
func TestPushFromGateway(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t, gatewayURL)

	rc := newReceiver(t, pushSecret)
	a := c.Agent("1301")
	if _, err := a.SignIn(ctx, client.SignInParams{Password: "p", PhoneNum: "71301",
		CallBackURI: rc.srv.URL + "/events/1301", ServiceToken: "tok-1301"}); err != nil {
		t.Fatal(err)
	}
	if evs := rc.expect(t, 1, ccgw.EvInService, ccgw.EvReady); evs[1].GenTime == 0 {
		t.Errorf("pushed event without eventGenTime: %+v", evs[1])
	}
	if err := a.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	a.SetServiceToken("tok-1301-b")
	if err := a.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := a.Poll(ctx)
	wantCode(t, "Poll in push mode", err, ccgw.RetWrongEventMethod)
	wantCode(t, "Events in push mode", a.Events(ctx, func(client.Event) error { return nil }), ccgw.RetWrongEventMethod)
	if err := a.SayBusy(ctx, 0); err != nil {
		t.Fatal(err)
	}
	rc.expect(t, 3, ccgw.EvSetNotReadySuccess)
	if err := a.SignOut(ctx); err != nil {
		t.Fatal(err)
	}

	legacy := newReceiver(t, pushSecret)
	b := c.Agent("1302")
	if _, err := b.SignIn(ctx, client.SignInParams{Password: "p", PhoneNum: "71302", PushURL: legacy.srv.URL + "/AgentEventServlet"}); err != nil {
		t.Fatal(err)
	}
	if evs := legacy.expect(t, 1, ccgw.EvInService, ccgw.EvReady); evs[0].GenTime != 0 {
		t.Errorf("a pushUrl event with eventGenTime: %+v", evs[0])
	}
	if err := b.SignOut(ctx); err != nil {
		t.Fatal(err)
	}

	wrong := newReceiver(t, []byte("not the gateway's secret"))
	w := c.Agent("1303")
	if _, err := w.SignIn(ctx, client.SignInParams{Password: "p", PhoneNum: "71303",
		CallBackURI: wrong.srv.URL + "/events/1303", ServiceToken: "tok-1303"}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, 10*time.Millisecond, func() error {
		wrong.mu.Lock()
		defer wrong.mu.Unlock()
		if len(wrong.answers) == 0 {
			return errors.New("no push yet")
		}
		if !strings.Contains(wrong.answers[0], `"retcode":"000-003"`) {
			t.Fatalf("answer to a push signed with another secret: %s", wrong.answers[0])
		}
		return nil
	})
	if err := w.SignOut(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-wrong.evs:
		t.Errorf("delivered despite the wrong secret: %+v", ev)
	default:
	}
}
