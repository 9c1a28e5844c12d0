package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/api"
)

// Tests of the admin API (docs/conformance.md §1.5) over loopback HTTP, with
// the call simulator behind the gateway on a fake clock that the API moves.

// TestAdminAPI covers every admin endpoint: success and its 000-002/404 cases.
func TestAdminAPI(t *testing.T) {
	get, post, put, del := http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
	adminErr := func(t *testing.T, cs *clServer, method, path, body string, status int) {
		t.Helper()
		r := cs.do(t, method, api.AdminPrefix+path, nil, body)
		if r.status != status || r.retcode() != "000-002" {
			t.Fatalf("%s %s %s: HTTP %d %s, want %d 000-002", method, path, body, r.status, r.body, status)
		}
	}
	t.Run("clock", func(t *testing.T) {
		cs := clNewServer(t, clConfig{})
		mustBody(t, cs.clAdmin(t, get, "clock", ""), fmt.Sprintf(`{"message":"success","retcode":"0","result":{"now":%d,"virtual":true}}`, clStart.UnixMilli()))
		r := cs.clAdmin(t, post, "clock/advance", `{"seconds":1.5}`)
		mustBody(t, r, fmt.Sprintf(`{"message":"success","retcode":"0","result":{"now":%d,"virtual":true}}`, clStart.UnixMilli()+1500))
		cs.clAdmin(t, post, "clock/advance", `{"duration":"2m"}`)
		cs.clAdmin(t, post, "clock/advance", `{"seconds":"3"}`)
		if got := cs.clock.Now().Sub(clStart); got != 124500*time.Millisecond {
			t.Fatalf("clock moved %v", got)
		}
		for _, body := range []string{``, `{`, `{}`, `{"seconds":0}`, `{"seconds":-1}`, `{"seconds":"x"}`,
			`{"duration":"soon"}`, `{"duration":"-1s"}`, `{"seconds":2678401}`} {
			adminErr(t, cs, post, "clock/advance", body, http.StatusOK)
		}
		adminErr(t, cs, get, "clock/advance", "", http.StatusNotFound)
		adminErr(t, cs, post, "clock", "", http.StatusNotFound)
		if got := cs.clock.Now().Sub(clStart); got != 124500*time.Millisecond {
			t.Fatalf("a rejected advance moved the clock to %v", got)
		}
	})
	t.Run("clock without a virtual clock", func(t *testing.T) {
		cs := clNewServer(t, clConfig{noVirtual: true})
		status, env := cs.clRaw(t, post, api.AdminPrefix+"clock/advance", `{"seconds":1}`)
		if status != http.StatusConflict || string(env["retcode"]) != `"000-002"` {
			t.Fatalf("advance without a virtual clock: HTTP %d %v", status, env)
		}
		if r := cs.clAdmin(t, get, "clock", ""); !strings.Contains(string(r.env["result"]), `"virtual":false`) {
			t.Fatalf("clock %s", r.env["result"])
		}
		if !cs.clock.Now().Equal(clStart) {
			t.Fatal("the clock moved")
		}
	})
	t.Run("events", func(t *testing.T) {
		cs := clNewServer(t, clConfig{})
		mustBody(t, cs.clAdmin(t, get, "events", ""), `{"message":"success","retcode":"0","result":{"events":[],"last":0}}`)
		cs.clSignIn(t, "1001", "")
		cs.clSignIn(t, "1002", `"status":3`)
		all := cs.clJournal(t)
		var got []string
		for _, ev := range all {
			got = append(got, ev.WorkNo+" "+ev.Type)
		}
		want := []string{"1001 " + ccgw.EvInService, "1001 " + ccgw.EvReady, "1002 " + ccgw.EvInService, "1002 " + ccgw.EvReady, "1002 " + ccgw.EvSetNotReadySuccess}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("journal %v, want %v", got, want)
		}
		r := cs.clAdmin(t, get, "events?after=2&limit=2", "")
		if !strings.HasSuffix(string(r.env["result"]), `"last":4}`) || strings.Count(string(r.env["result"]), "eventType") != 2 {
			t.Fatalf("after=2&limit=2: %s", r.env["result"])
		}
		mustBody(t, cs.clAdmin(t, get, "events?after=9", ""), `{"message":"success","retcode":"0","result":{"events":[],"last":9}}`)
		if r := cs.clAdmin(t, get, "events?limit=-3", ""); strings.Count(string(r.env["result"]), "eventType") != 5 {
			t.Fatalf("bad limit: %s", r.env["result"])
		}
		adminErr(t, cs, post, "events", "", http.StatusNotFound)
	})
	t.Run("queues", func(t *testing.T) {
		cs := clNewServer(t, clConfig{})
		mustBody(t, cs.clAdmin(t, get, "queues", ""), `{"message":"success","retcode":"0","result":[`+
			`{"skillId":1,"waiting":0,"longestWaitSeconds":0,"offered":0,"answered":0,"abandoned":0,"noAnswer":0,"transferred":0},`+
			`{"skillId":2,"waiting":0,"longestWaitSeconds":0,"offered":0,"answered":0,"abandoned":0,"noAnswer":0,"transferred":0}]}`)
		cs.clInject(t, `{"skillId":2}`)
		cs.clAdvance(t, 1500*time.Millisecond)
		if q := cs.clQueueOf(t, 2); q.Waiting != 1 || q.LongestWait != 1.5 {
			t.Fatalf("queue 2 %+v", q)
		}
		if q := cs.clQueueOf(t, 99); q != (clQueue{Skill: 99}) {
			t.Fatalf("queue 99 %+v", q)
		}
		adminErr(t, cs, get, "queues/x", "", http.StatusOK)
		adminErr(t, cs, get, "queues/-1", "", http.StatusOK)
		adminErr(t, cs, post, "queues", "", http.StatusNotFound)
		adminErr(t, cs, get, "queues/1/2", "", http.StatusNotFound)
	})
	t.Run("calls", func(t *testing.T) {
		cs := clNewServer(t, clConfig{})
		id := cs.clInject(t, `{"skillId":1,"caller":"13900000000","callData":"order 42","talkSeconds":10,"abandonSeconds":60}`)
		if !strings.HasPrefix(id, strconv.FormatInt(clStart.Unix(), 10)+"-") || !clCallIDRE.MatchString(id) {
			t.Fatalf("call ID %q", id)
		}
		r := cs.clAdmin(t, get, "calls/"+id, "")
		var st map[string]json.RawMessage
		json.Unmarshal(r.env["result"], &st)
		mustKeys(t, "call status", st, append([]string{"state", "workno"}, clCallInfoKeys...)...)
		if m := clObj(t, r.env["result"]); m["state"] != "queued" || m["caller"] != "13900000000" || m["calldata"] != "order 42" {
			t.Fatalf("call %s", r.env["result"])
		}
		cs.clAdmin(t, del, "calls/"+id, "")
		cs.clMustGone(t, id)
		if q := cs.clQueueOf(t, 1); q.Abandoned != 1 || q.Waiting != 0 {
			t.Fatalf("queue %+v", q)
		}
		adminErr(t, cs, del, "calls/"+id, "", http.StatusNotFound)
		adminErr(t, cs, get, "calls/nope", "", http.StatusNotFound)
		for _, body := range []string{``, `{`, `{}`, `{"skillId":99}`, `{"skillId":"x"}`, `{"skillId":1,"caller":"abc"}`,
			`{"skillId":1,"talkSeconds":-1}`, `{"skillId":1,"abandonSeconds":-1}`} {
			adminErr(t, cs, post, "calls", body, http.StatusOK)
		}
		adminErr(t, cs, get, "calls", "", http.StatusNotFound)
		adminErr(t, cs, put, "calls/"+id, "", http.StatusNotFound)

		// A talking call whose customer hangs up after talkSeconds.
		a := cs.clSignIn(t, "1001", "")
		id = cs.clInject(t, `{"skillId":1,"talkSeconds":10}`)
		cs.clEvents(t, a)
		clMustCallState(t, cs, id, "talking", "1001")
		cs.clAdvance(t, 10*time.Second)
		cs.clMustTypes(t, a, ccgw.EvCustomerRelease, ccgw.EvCallRelease, ccgw.EvPhoneRelease, ccgw.EvReady)
		cs.clMustGone(t, id)
	})
	t.Run("rates", func(t *testing.T) {
		cs := clNewServer(t, clConfig{})
		mustBody(t, cs.clAdmin(t, get, "rates", ""), `{"message":"success","retcode":"0","result":{}}`)
		mustBody(t, cs.clAdmin(t, put, "rates/1", `{"perHour":720,"talkMinSeconds":5,"talkMaxSeconds":8,"abandonSeconds":1000}`),
			`{"message":"success","retcode":"0","result":{"abandonSeconds":1000,"perHour":720,"talkMaxSeconds":8,"talkMinSeconds":5}}`)
		mustBody(t, cs.clAdmin(t, get, "rates", ""),
			`{"message":"success","retcode":"0","result":{"1":{"abandonSeconds":1000,"perHour":720,"talkMaxSeconds":8,"talkMinSeconds":5}}}`)
		cs.clAdvance(t, time.Hour)
		q := cs.clQueueOf(t, 1)
		// about 720 arrivals; those older than 1000 s gave up
		if n := q.Waiting + q.Abandoned; n < 560 || n > 880 || q.Waiting < 130 || q.Waiting > 270 || q.LongestWait > 1000 {
			t.Fatalf("an hour at 720/h with nobody to answer: %+v", q)
		}
		cs.clAdmin(t, put, "rates/1", `{"perHour":0}`)
		mustBody(t, cs.clAdmin(t, get, "rates", ""), `{"message":"success","retcode":"0","result":{}}`)
		before := cs.clQueueOf(t, 1)
		cs.clAdvance(t, time.Minute)
		if after := cs.clQueueOf(t, 1); after.Waiting+after.Abandoned != before.Waiting+before.Abandoned {
			t.Fatalf("calls arrived after the rate was stopped: %+v then %+v", before, after)
		}
		for _, c := range []struct{ path, body string }{
			{"rates/99", `{"perHour":1}`}, {"rates/x", `{"perHour":1}`}, {"rates/1", `{"perHour":-1}`},
			{"rates/1", `{"perHour":1,"talkMinSeconds":-1}`}, {"rates/1", `{"perHour":1,"abandonSeconds":-1}`},
			{"rates/1", `{`}, {"rates/1", ``},
		} {
			adminErr(t, cs, put, c.path, c.body, http.StatusOK)
		}
		adminErr(t, cs, get, "rates/1", "", http.StatusNotFound)
		adminErr(t, cs, post, "rates", "", http.StatusNotFound)
	})
	t.Run("agents", func(t *testing.T) {
		cs := clNewServer(t, clConfig{})
		cs.clAdmin(t, post, "agents", `{"workNo":"2001","skills":[1],"answerAfterSeconds":2,"wrapUpSeconds":5}`)
		id := cs.clInject(t, `{"skillId":1,"talkSeconds":10}`)
		clMustCallState(t, cs, id, "ringing", "2001")
		cs.clAdvance(t, 2*time.Second)
		clMustCallState(t, cs, id, "talking", "2001")
		cs.clAdvance(t, 10*time.Second)
		cs.clMustGone(t, id)
		cs.clAdvance(t, 5*time.Second)
		var got []string
		for _, ev := range cs.clJournal(t) {
			if ev.WorkNo == "2001" {
				got = append(got, ev.Type)
			}
		}
		want := []string{ccgw.EvInService, ccgw.EvReady, ccgw.EvIncomingCallInfo, ccgw.EvBusy, ccgw.EvPhoneAlerting, ccgw.EvPhoneOffhook,
			ccgw.EvRinging, ccgw.EvCustomerAlerting, ccgw.EvTalking, ccgw.EvCustomerRelease, ccgw.EvCallRelease, ccgw.EvPhoneRelease,
			ccgw.EvWork, ccgw.EvReady}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("simulated agent's events\n got %v\nwant %v", got, want)
		}
		// Signed in to skill 1 only: a skill-2 call waits.
		id = cs.clInject(t, `{"skillId":2}`)
		clMustCallState(t, cs, id, "queued", "")
		// An auto-answer simulated agent.
		cs.clAdmin(t, post, "agents", `{"workNo":"2002"}`)
		clMustCallState(t, cs, id, "talking", "2002")
		for _, body := range []string{``, `{`, `{}`, `{"workNo":"abc"}`, `{"workNo":"100"}`, `{"workNo":"2003","skills":["x"]}`,
			`{"workNo":"2003","answerAfterSeconds":-1}`, `{"workNo":"2003","wrapUpSeconds":-1}`} {
			adminErr(t, cs, post, "agents", body, http.StatusOK)
		}
		adminErr(t, cs, get, "agents", "", http.StatusNotFound)
	})
	t.Run("unknown", func(t *testing.T) {
		cs := clNewServer(t, clConfig{})
		for _, p := range []string{"", "nothing", "calls/1/2", "clock/advance/now"} {
			adminErr(t, cs, get, p, "", http.StatusNotFound)
		}
	})
}
