package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/console"
)

// The web console on the admin listener (internal/console holds its files),
// and what guards every answer of that listener: its headers, the console's
// sign-in cookie, the check of cross-origin requests and of the Host a
// request names. docs/security.md, "The web console", says why each.

// Paths of the console: the page at "/", its files under /console/.
const (
	consolePath   = "/"
	consoleAssets = "/console/"
	consoleLogin  = "/console/login"
	consoleLogout = "/console/logout"
)

// ConsoleCookie is the name of the console's sign-in cookie.
const ConsoleCookie = "ccgw_console"

// ConsoleSignIn is how long a console sign-in lasts.
const ConsoleSignIn = 12 * time.Hour

// adminCSP is every admin answer's Content-Security-Policy: the console runs
// only its own files (no inline script or style, nothing of another origin),
// no page may frame it, and its forms post only to itself.
const adminCSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// setAdminHeaders sets the headers of every answer of the admin listener.
func setAdminHeaders(h http.Header) {
	h.Set("Content-Security-Policy", adminCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// guardAdmin returns the answer to a request the admin listener refuses
// before anything else: one whose Host is not local while Config.AdminLocalOnly
// asks for that (DNS rebinding), and a cross-origin browser request with a
// method other than GET, HEAD or OPTIONS (CSRF); both HTTP 403 and 000-003.
// ok is false for a request that may go on.
func (s *Server) guardAdmin(c *call) (rep reply, refused bool) {
	if !s.localEnough(c.r) || s.crossOrigin.Check(c.r) != nil {
		c.name = "forbidden"
		return reply{code: ccgw.RetNoPermission, status: http.StatusForbidden}, true
	}
	return reply{}, false
}

// localEnough reports whether r may reach the admin handler by its Host: any
// Host with an admin token (the token is what protects then), else, with
// Config.AdminLocalOnly, only a loopback address or localhost (a page of
// another site whose name was made to resolve to 127.0.0.1 names its own
// host). A request without a Host (HTTP/1.0) is no browser's.
func (s *Server) localEnough(r *http.Request) bool {
	if !s.cfg.AdminLocalOnly || s.adminToken != nil || r.Host == "" {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// console answers the console's paths; ok is false for any other path. The
// page wants the admin token (as a bearer credential or the console's
// cookie) when one is set, and is answered the sign-in page (HTTP 401)
// without it; so do the console's files but the sign-in page's own. An
// unknown file is 404, another method 405, both in the envelope.
func (s *Server) console(c *call, path string) (rep reply, ok bool) {
	method := http.MethodGet
	switch {
	case path == consolePath:
		c.name = "console.page"
	case path == consoleLogin:
		c.name, method = "console.login", http.MethodPost
	case path == consoleLogout:
		c.name, method = "console.logout", http.MethodPost
	case strings.HasPrefix(path, consoleAssets):
		c.name = "console.asset"
	default:
		return reply{}, false
	}
	if c.r.Method != method {
		return reply{code: ccgw.RetBadParam, status: http.StatusMethodNotAllowed, allow: method}, true
	}
	switch c.name {
	case "console.login":
		if c.r.ContentLength > maxBody {
			return s.tooLarge(ccgw.RetBadParam), true // unread, as on the admin API
		}
		return s.consoleSignIn(c), true
	case "console.logout":
		return reply{code: ccgw.RetOK, result: emptyResult, cookie: s.consoleCookie(c.r, "", -1)}, true
	}
	authed := s.authorized(c.r)
	if c.name == "console.page" {
		if !authed {
			f := console.Login()
			return reply{code: ccgw.RetOK, raw: f.Body, rawType: f.Type, status: http.StatusUnauthorized}, true
		}
		f := console.Page()
		return reply{code: ccgw.RetOK, raw: f.Body, rawType: f.Type}, true
	}
	f, found := console.Asset(strings.TrimPrefix(path, consoleAssets))
	switch {
	case !found:
		return reply{code: ccgw.RetBadParam, status: http.StatusNotFound}, true
	case !f.Public && !authed:
		return reply{code: ccgw.RetNoPermission, status: http.StatusUnauthorized, authenticate: `Bearer realm="ccgw admin"`}, true
	}
	return reply{code: ccgw.RetOK, raw: f.Body, rawType: f.Type}, true
}

// consoleSignIn answers POST /console/login, body {"token": "..."}: the
// console's cookie when the token is the admin token (compared as
// authorized compares it), else HTTP 401 and 000-003. Without an admin token
// there is nothing to sign in to: success, no cookie.
func (s *Server) consoleSignIn(c *call) reply {
	var b struct {
		Token string `json:"token"`
	}
	if err := decodeBody(c.w, c.r, &b, false); err != nil {
		return fail(ccgw.RetBadParam)
	}
	if s.adminToken == nil {
		return ok(emptyResult)
	}
	got := sha256.Sum256([]byte(b.Token))
	if subtle.ConstantTimeCompare(got[:], s.adminToken) != 1 {
		return reply{code: ccgw.RetNoPermission, status: http.StatusUnauthorized}
	}
	exp := s.now().Add(ConsoleSignIn).Unix()
	return reply{code: ccgw.RetOK, result: emptyResult, cookie: s.consoleCookie(c.r, s.cookieValue(exp), int(ConsoleSignIn/time.Second))}
}

// consoleCookie returns the console's cookie with value, for maxAge seconds
// (negative: delete it). HttpOnly: no script reads it; SameSite=Strict: no
// other site's request carries it; Secure over TLS.
func (s *Server) consoleCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: ConsoleCookie, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
}

// cookieValue returns the cookie that signs the console in until exp (Unix
// seconds): "<exp>.<hex HMAC-SHA256 of exp keyed with the token's digest>".
// It is not the token, and it ends: a copy of it is worth less than one of the
// token, and a changed token ends every sign-in.
func (s *Server) cookieValue(exp int64) string {
	e := strconv.FormatInt(exp, 10)
	return e + "." + hex.EncodeToString(s.cookieMAC(e))
}

func (s *Server) cookieMAC(exp string) []byte {
	m := hmac.New(sha256.New, s.adminToken)
	m.Write([]byte("ccgw console sign-in\x00" + exp))
	return m.Sum(nil)
}

// cookieSignedIn reports whether r carries a console cookie that cookieValue
// made and that has not expired; the MAC is compared in constant time.
func (s *Server) cookieSignedIn(r *http.Request) bool {
	ck, err := r.Cookie(ConsoleCookie)
	if err != nil {
		return false
	}
	e, mac, found := strings.Cut(ck.Value, ".")
	exp, err := strconv.ParseInt(e, 10, 64)
	if !found || err != nil || exp <= s.now().Unix() {
		return false
	}
	got, err := hex.DecodeString(mac)
	return err == nil && hmac.Equal(got, s.cookieMAC(e))
}
