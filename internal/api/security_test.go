package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/push"
)

// TestSignInCallbackPolicy: every sign-in interface refuses (100-001) a
// callBackUri or pushUrl the callback policy refuses, with the gateway on
// loopback only (the laptop case) and elsewhere; nothing is signed in then.
func TestSignInCallbackPolicy(t *testing.T) {
	laptop := testServer(t, tConfig{checkCallback: (&push.CallbackPolicy{AllowPrivate: true}).Check})
	server := testServer(t, tConfig{checkCallback: (&push.CallbackPolicy{}).Check})
	rows := []struct {
		url            string
		laptop, server string // retcode
	}{
		{"https://crm.example.com/cb", "0", "0"},
		{"http://127.0.0.1:6379/", "0", "100-001"},
		{"http://[::1]:8080/cb", "0", "100-001"},
		{"http://localhost:22/", "0", "100-001"},
		{"http://192.168.1.10/cb", "0", "100-001"},
		{"http://0.0.0.0:8043/", "100-001", "100-001"},
		{"http://[::]/", "100-001", "100-001"},
		{"http://169.254.169.254/latest/meta-data/", "100-001", "100-001"},
		{"http://[fe80::1]/", "100-001", "100-001"},
		{"http://[fd00:ec2::254]/", "100-001", "100-001"},
		{"http://metadata.google.internal/", "100-001", "100-001"},
		{"http://user:pw@crm.example.com/cb", "100-001", "100-001"},
		{"http://239.255.255.250:1900/", "100-001", "100-001"},
		{"http://2130706433/", "100-001", "100-001"},
	}
	n := 0
	for _, r := range rows {
		for _, ts := range []struct {
			name string
			s    *tServer
			want string
		}{{"laptop", laptop, r.laptop}, {"server", server, r.server}} {
			for _, field := range []string{"callBackUri", "pushUrl"} {
				for _, path := range []func(string) string{pathLogin, pathForceLogin, pathLoginEx} {
					n++
					id := fmt.Sprint(5000 + n)
					body, _ := json.Marshal(map[string]string{"password": "x", "phonenum": "70001", field: r.url, "serviceToken": "tok"})
					resp := ts.s.do(t, http.MethodPut, path(id), nil, string(body))
					if resp.retcode() != ts.want {
						t.Errorf("%s, %s %q on %s: retcode %s, want %s", ts.name, field, r.url, path(id), resp.retcode(), ts.want)
					}
					if _, in := ts.s.sessions.Lookup(ccgw.AgentID(5000 + n)); in != (ts.want == "0") {
						t.Errorf("%s, %s %q: signed in %v after retcode %s", ts.name, field, r.url, in, resp.retcode())
					}
				}
			}
		}
	}
}

// TestSignInLockoutHTTP: over HTTP, the 3rd wrong password (with
// --lockout-attempts 3) answers 110-016 "the account is locked", as does the
// right one after it; another agent signs in.
func TestSignInLockoutHTTP(t *testing.T) {
	ts := testServer(t, tConfig{dir: testFileDirectory(t), lockout: ccgw.LockoutPolicy{Attempts: 3, Window: time.Minute, Duration: time.Minute}})
	login := func(id, pw string) *tResp {
		b, _ := json.Marshal(map[string]string{"password": pw, "phonenum": "70001"})
		return ts.do(t, http.MethodPut, pathForceLogin(id), nil, string(b))
	}
	mustCode(t, login("1001", "wrong1"), "100-004")
	mustCode(t, login("1001", "wrong2"), "100-004")
	r := login("1001", "wrong3")
	mustCode(t, r, "110-016")
	mustBody(t, r, `{"message":"the account is locked","retcode":"110-016"}`)
	mustCode(t, login("1001", "S3cret!pw"), "110-016")
	mustCode(t, login("1002", "other-pw"), "0")
}

// TestChangePasswordLockout: modifyAccountPwdEx's wrong old passwords count
// toward the lockout like wrong sign-in passwords (a signed-in client cannot
// guess there instead): the 3rd answers 110-016, after which the right old
// password does too and sign-in is locked as well. An empty old password is
// refused (110-003) but not counted.
func TestChangePasswordLockout(t *testing.T) {
	ts := testServer(t, tConfig{dir: testFileDirectory(t), lockout: ccgw.LockoutPolicy{Attempts: 3, Window: time.Minute, Duration: time.Minute}})
	g := ts.mustSignIn(t, pathLogin, "1001", `{"password":"S3cret!pw","phonenum":"70001"}`)
	change := func(old string) *tResp {
		b, _ := json.Marshal(map[string]string{"oldPassword": old, "newPassword": "Gr8!Passw0rd"})
		return ts.do(t, http.MethodPost, base+"/onlineagent/1001/modifyaccountpwdex", guidHdr(g), string(b))
	}
	for range 5 {
		mustCode(t, change(""), "110-003")
	}
	mustCode(t, change("wrong1"), "110-003")
	mustCode(t, change("wrong2"), "110-003")
	mustCode(t, change("wrong3"), "110-016")
	mustCode(t, change("S3cret!pw"), "110-016")
	b, _ := json.Marshal(map[string]string{"password": "S3cret!pw", "phonenum": "70001"})
	mustCode(t, ts.do(t, http.MethodPut, pathForceLogin("1001"), nil, string(b)), "110-016")
}

// TestWildcardGUIDActsForNobody: a request with the GUID "*" (once the
// wildcard of the gateway's own session changes) is refused 000-003 on every
// interface that changes or reads a session, and changes nothing.
func TestWildcardGUIDActsForNobody(t *testing.T) {
	ts := testServer(t, tConfig{})
	ts.mustLogin(t, "1001")
	for _, c := range []struct{ method, path string }{
		{http.MethodPost, base + "/onlineagent/1001/saybusy"},
		{http.MethodPost, pathHandShake("1001")},
		{http.MethodDelete, pathLogout("1001")},
	} {
		mustCode(t, ts.do(t, c.method, c.path, guidHdr("*"), ""), "000-003")
	}
	if s, ok := ts.sessions.Lookup(1001); !ok || s.State != ccgw.StateIdle {
		t.Fatalf("after the wildcard requests: %+v %v, want 1001 signed in and idle", s, ok)
	}
}
