package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/api"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/console"
)

// cnMustHeaders fails tb unless an admin answer carries the console's
// security headers.
func cnMustHeaders(tb testing.TB, what string, h http.Header) {
	tb.Helper()
	if csp := h.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self';") || !strings.Contains(csp, "frame-ancestors 'none'") {
		tb.Errorf("%s: Content-Security-Policy %q", what, csp)
	}
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Cache-Control": "no-store",
		"Referrer-Policy": "no-referrer"} {
		if h.Get(k) != v {
			tb.Errorf("%s: %s %q, want %q", what, k, h.Get(k), v)
		}
	}
}

// TestConsoleFiles: without a token, GET / is the console's page and
// /console/{app.js,login.js,style.css} its files, each with its type and the
// security headers; an unknown file is 404, a page by its file name too,
// another method 405, all in the envelope. The vendor listener answers every
// one of these paths as an unknown path.
func TestConsoleFiles(t *testing.T) {
	ls := lvNewServer(t, simConfig{})
	resp, body := ls.lvGet(t, http.MethodGet, "/", nil, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(string(body), `src="console/app.js"`) {
		t.Fatalf("GET /: HTTP %d %q %.80s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	cnMustHeaders(t, "GET /", resp.Header)
	for name, typ := range map[string]string{"app.js": "text/javascript; charset=utf-8", "login.js": "text/javascript; charset=utf-8",
		"style.css": "text/css; charset=utf-8"} {
		resp, body := ls.lvGet(t, http.MethodGet, "/console/"+name, nil, "")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != typ || len(body) == 0 {
			t.Errorf("GET /console/%s: HTTP %d %q, %d bytes", name, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		cnMustHeaders(t, name, resp.Header)
	}
	for _, p := range []string{"/console/nothing.js", "/console/index.html", "/console/login.html", "/console/", "/console/../app.js", "/index.html"} {
		r := ls.admin.do(t, http.MethodGet, p, nil, "")
		lvMust(t, "GET "+p, r, http.StatusNotFound, "000-002")
		cnMustHeaders(t, p, r.header)
	}
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodPost, "/", "GET"}, {http.MethodDelete, "/console/app.js", "GET"},
		{http.MethodGet, "/console/login", "POST"}, {http.MethodPut, "/console/logout", "POST"},
	} {
		r := ls.admin.do(t, tc.method, tc.path, nil, "")
		lvMust(t, tc.method+" "+tc.path, r, http.StatusMethodNotAllowed, "000-002")
		if r.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: Allow %q", tc.method, tc.path, r.header.Get("Allow"))
		}
	}
	unknown := ls.do(t, http.MethodGet, "/nothing", nil, "")
	for _, p := range []string{"/", "/console/app.js", "/console/style.css", "/console/login"} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			r := ls.do(t, m, p, nil, "")
			if r.status != unknown.status || string(r.body) != string(unknown.body) || r.header.Get("Content-Security-Policy") != "" {
				t.Errorf("vendor %s %s: HTTP %d %s, want as an unknown path", m, p, r.status, r.body)
			}
		}
	}
}

// TestConsoleFilesAreInert: the pages run no inline script or style and load
// nothing from another origin; the scripts never parse data as markup.
func TestConsoleFilesAreInert(t *testing.T) {
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<style|\son[a-z]+\s*=|\sstyle\s*=|javascript:`)
	for _, name := range console.Names() {
		f := loadConsoleFile(t, name)
		if strings.Contains(f, "http://") || strings.Contains(f, "https://") || strings.Contains(f, "//cdn") {
			t.Errorf("%s names another origin", name)
		}
		switch {
		case strings.HasSuffix(name, ".html"):
			if m := inline.FindString(f); m != "" {
				t.Errorf("%s: inline script or style: %q", name, m)
			}
			for _, src := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(f, -1) {
				if !strings.HasPrefix(src[1], "console/") {
					t.Errorf("%s: loads %q, not one of the console's files", name, src[1])
				}
			}
		case strings.HasSuffix(name, ".js"):
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
				"setAttribute(\"on", "srcdoc"} {
				if strings.Contains(f, bad) {
					t.Errorf("%s uses %s", name, bad)
				}
			}
			if !strings.Contains(f, `"use strict"`) {
				t.Errorf("%s is not strict", name)
			}
		}
	}
}

func loadConsoleFile(t *testing.T, name string) string {
	t.Helper()
	switch name {
	case "index.html":
		return string(console.Page().Body)
	case "login.html":
		return string(console.Login().Body)
	}
	f, ok := console.Asset(name)
	if !ok {
		t.Fatalf("no asset %s", name)
	}
	return string(f.Body)
}

const cnToken = "0123456789abcdef-console"

// TestConsoleToken: with an admin token, GET / without it is the sign-in page
// (401) and the console's own script is refused; the sign-in page's files are
// served. POST /console/login with the token answers an HttpOnly,
// SameSite=Strict cookie that opens the page and the admin API, until it
// expires or is signed out; a wrong token, a tampered or expired cookie are
// 401, 000-003.
func TestConsoleToken(t *testing.T) {
	wall := clock.NewVirtual(clStart)
	ls := lvNewServer(t, simConfig{adminToken: cnToken, wall: wall})
	resp, body := ls.lvGet(t, http.MethodGet, "/", nil, "")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `src="console/login.js"`) ||
		strings.Contains(string(body), "app.js") {
		t.Fatalf("GET / without the token: HTTP %d %.200s", resp.StatusCode, body)
	}
	cnMustHeaders(t, "sign-in page", resp.Header)
	lvMust(t, "app.js", ls.admin.do(t, http.MethodGet, "/console/app.js", nil, ""), http.StatusUnauthorized, "000-003")
	for _, p := range []string{"/console/login.js", "/console/style.css"} {
		if resp, _ := ls.lvGet(t, http.MethodGet, p, nil, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: HTTP %d", p, resp.StatusCode)
		}
	}
	lvMust(t, "admin API", ls.lvAdmin(t, http.MethodGet, "agents", nil, ""), http.StatusUnauthorized, "000-003")

	for _, body := range []string{`{"token":"wrong-token-0123456789"}`, `{"token":""}`, `{"token":"` + cnToken + `x"}`} {
		r := ls.admin.do(t, http.MethodPost, "/console/login", nil, body)
		lvMust(t, body, r, http.StatusUnauthorized, "000-003")
		if r.header.Get("Set-Cookie") != "" {
			t.Fatalf("a wrong token got a cookie")
		}
	}
	lvMust(t, "not JSON", ls.admin.do(t, http.MethodPost, "/console/login", nil, "token="+cnToken), http.StatusOK, "000-002")
	lvMust(t, "over 64 KiB", ls.admin.do(t, http.MethodPost, "/console/login", nil, `{"token":"`+strings.Repeat("x", 64<<10)+`"}`),
		http.StatusRequestEntityTooLarge, "000-002")
	r := ls.admin.do(t, http.MethodPost, "/console/login", nil, `{"token":"`+cnToken+`"}`)
	mustCode(t, r, "0")
	cookies := (&http.Response{Header: r.header}).Cookies()
	if len(cookies) != 1 {
		t.Fatalf("Set-Cookie %q", r.header.Values("Set-Cookie"))
	}
	ck := cookies[0]
	if ck.Name != api.ConsoleCookie || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" ||
		ck.MaxAge != int(api.ConsoleSignIn/time.Second) || ck.Secure || strings.Contains(ck.Value, cnToken) {
		t.Fatalf("cookie %+v", ck)
	}
	withCookie := hdr{"Cookie": ck.Name + "=" + ck.Value}
	resp, body = ls.lvGet(t, http.MethodGet, "/", withCookie, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `src="console/app.js"`) {
		t.Fatalf("GET / with the cookie: HTTP %d", resp.StatusCode)
	}
	if resp, _ := ls.lvGet(t, http.MethodGet, "/console/app.js", withCookie, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("app.js with the cookie: HTTP %d", resp.StatusCode)
	}
	mustCode(t, ls.lvAdmin(t, http.MethodGet, "agents", withCookie, ""), "0")
	mustCode(t, ls.lvAdmin(t, http.MethodGet, "agents", hdr{"Authorization": "Bearer " + cnToken}, ""), "0")

	// Tampered: each part of the value changed.
	exp, mac, _ := strings.Cut(ck.Value, ".")
	flip := func(s string) string {
		b := []byte(s)
		b[len(b)-1] ^= 1
		return string(b)
	}
	for _, v := range []string{exp + "." + flip(mac), flip(exp) + "." + mac, "9" + exp + "." + mac, exp, "." + mac, exp + ".", ""} {
		lvMust(t, "cookie "+v, ls.lvAdmin(t, http.MethodGet, "agents", hdr{"Cookie": ck.Name + "=" + v}, ""), http.StatusUnauthorized, "000-003")
	}
	// Expired on the wall clock.
	wall.Advance(api.ConsoleSignIn - time.Second)
	mustCode(t, ls.lvAdmin(t, http.MethodGet, "agents", withCookie, ""), "0")
	wall.Advance(time.Second)
	lvMust(t, "expired cookie", ls.lvAdmin(t, http.MethodGet, "agents", withCookie, ""), http.StatusUnauthorized, "000-003")

	r = ls.admin.do(t, http.MethodPost, "/console/logout", nil, "{}")
	mustCode(t, r, "0")
	if out := (&http.Response{Header: r.header}).Cookies(); len(out) != 1 || out[0].Name != api.ConsoleCookie || out[0].MaxAge >= 0 {
		t.Fatalf("sign-out Set-Cookie %q", r.header.Values("Set-Cookie"))
	}
}

// TestConsoleSignInWithoutToken: without an admin token there is nothing to
// sign in to: success, no cookie.
func TestConsoleSignInWithoutToken(t *testing.T) {
	ls := lvNewServer(t, simConfig{})
	r := ls.admin.do(t, http.MethodPost, "/console/login", nil, `{"token":"anything"}`)
	mustCode(t, r, "0")
	if r.header.Get("Set-Cookie") != "" {
		t.Fatal("a cookie without a token")
	}
}

// TestAdminCrossOrigin: a browser request of another origin (Sec-Fetch-Site
// cross-site or same-site, or an Origin that is not the Host) that could
// change something is HTTP 403, 000-003, and changes nothing; reads are
// served, and so are same-origin requests and requests of no browser.
func TestAdminCrossOrigin(t *testing.T) {
	ls := lvNewServer(t, simConfig{})
	inject := `{"skillId":1,"caller":"13912345678"}`
	for _, h := range []hdr{{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
		{"Origin": "http://evil.example"}, {"Origin": "http://127.0.0.1:1"}} {
		for _, rq := range []struct{ method, path, body string }{
			{http.MethodPost, api.AdminPrefix + "calls", inject}, {http.MethodPost, api.AdminPrefix + "clock/advance", `{"seconds":5}`},
			{http.MethodPost, api.AdminPrefix + "faults", `{"kind":"unavailable"}`}, {http.MethodDelete, api.AdminPrefix + "agents/1001", ""},
			{http.MethodPost, "/console/login", `{"token":"x"}`},
		} {
			lvMust(t, rq.method+" "+rq.path, ls.admin.do(t, rq.method, rq.path, h, rq.body), http.StatusForbidden, "000-003")
		}
		mustCode(t, ls.lvAdmin(t, http.MethodGet, "clock", h, ""), "0")
	}
	if q := ls.engine.Queue(1); q.Offered != 0 || q.Waiting != 0 {
		t.Fatalf("a refused request injected a call: %+v", q)
	}
	if now := ls.clock.Now(); !now.Equal(clStart) {
		t.Fatalf("a refused request moved the clock to %v", now)
	}
	self := strings.TrimPrefix(ls.admin.URL, "http://")
	for _, h := range []hdr{nil, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {"Origin": "http://" + self}} {
		mustCode(t, ls.lvAdmin(t, http.MethodPost, "calls", h, inject), "0")
	}
}

// TestAdminLocalHost: with AdminLocalOnly and no token, a request naming a
// Host that is neither a loopback address nor localhost is HTTP 403, 000-003
// (DNS rebinding), on every path; with a token the Host is not judged.
func TestAdminLocalHost(t *testing.T) {
	ls := lvNewServer(t, simConfig{localOnly: true})
	for _, host := range []string{"evil.example", "evil.example:8044", "10.0.0.1:8044", "[2001:db8::1]:8044", "localhost.evil.example", "127.0.0.1.evil.example"} {
		for _, p := range []string{"/", "/console/app.js", "/ccgw/v1/clock", "/metrics", "/healthz"} {
			resp, body := ls.lvGet(t, http.MethodGet, p, hdr{"Host": host}, "")
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), `"000-003"`) {
				t.Errorf("Host %s GET %s: HTTP %d %s", host, p, resp.StatusCode, body)
			}
		}
	}
	port := ls.admin.URL[strings.LastIndex(ls.admin.URL, ":"):]
	for _, host := range []string{"127.0.0.1" + port, "127.1.2.3" + port, "localhost" + port, "LOCALHOST", "console.localhost" + port, "[::1]" + port, "localhost."} {
		if resp, body := ls.lvGet(t, http.MethodGet, "/ccgw/v1/clock", hdr{"Host": host}, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("Host %s: HTTP %d %s", host, resp.StatusCode, body)
		}
	}
	tok := lvNewServer(t, simConfig{localOnly: true, adminToken: cnToken})
	if resp, _ := tok.lvGet(t, http.MethodGet, "/ccgw/v1/clock", hdr{"Host": "ccgw.example:8044", "Authorization": "Bearer " + cnToken}, ""); resp.StatusCode != http.StatusOK {
		t.Errorf("with the token, another Host: HTTP %d", resp.StatusCode)
	}
}
