package api

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/netlimit"
)

const (
	on = "/agentgateway/resource/onlineagent/{agentid}"
	ev = "/agentgateway/resource/agentevent/{agentid}"
)

// table lists every interface the server answers.
func (s *Server) table() []*route {
	return []*route{
		r(http.MethodPut, "login", on, s.login),
		r(http.MethodPut, "forceLogin", on+"/forcelogin", s.forceLogin),
		r(http.MethodPut, "loginEx", on+"/loginex", s.loginEx),
		r(http.MethodDelete, "logout", on+"/logout", s.logout),
		r(http.MethodDelete, "forceLogout", on+"/forcelogout", s.forceLogout),
		r(http.MethodDelete, "forceLogoutWithReason", on+"/forcelogoutwithreason/{reason}", s.forceLogoutWithReason),
		r(http.MethodPost, "handShake", on+"/handshake", s.handShake),
		r(http.MethodPut, "heartBeat", on+"/heartbeat", s.heartBeat),
		r(http.MethodGet, "getAgentEvent", ev, s.getAgentEvent),
		r(http.MethodGet, "getAgentStatus", on+"/agentstatus", s.getAgentStatus),
		r(http.MethodPut, "updateGuid", on+"/updateGuid", s.updateGuid),
	}
}

// loginBody is the sign-in body (interfaces.md §1).
type loginBody struct {
	Password      flexString `json:"password"`
	PhoneNum      flexString `json:"phonenum"`
	AutoAnswer    flexBool   `json:"autoanswer"`
	AutoEnterIdle flexBool   `json:"autoenteridle"`
	ReleasePhone  flexBool   `json:"releasephone"`
	AgentType     flexInt    `json:"agenttype"`
	Status        flexInt    `json:"status"`
	IP            flexString `json:"ip"`
	EntryIP       flexString `json:"entryIp"`
	PhoneLinkage  flexBool   `json:"phonelinkage"`
	CheckInWebm   flexBool   `json:"checkInWebm"`
	CheckInMailm  flexBool   `json:"checkInMailm"`
	VCPhoneNumber flexString `json:"vcPhoneNumber"`
	ListenStatus  flexBool   `json:"listenStatus"`
	CallBackURI   flexString `json:"callBackUri"`
	ServiceToken  flexString `json:"serviceToken"`
	// PushURL is the older gateways' callback field: push mode without a
	// service token, each event pushed alone in a poll answer's envelope.
	PushURL flexString `json:"pushUrl"`
}

// loginResult is the sign-in result object.
type loginResult struct {
	VDNID         int    `json:"vdnid"`
	WorkNo        string `json:"workno"`
	MediaType     string `json:"mediatype"`
	LoginTime     string `json:"loginTime"`
	IsForceChange string `json:"isForceChange"`
	ServerName    string `json:"serverName"`
	TimeRemaining string `json:"timeRemaining"`
}

func (s *Server) login(c *call) reply      { return s.signIn(c, false, false) }
func (s *Server) forceLogin(c *call) reply { return s.signIn(c, true, false) }
func (s *Server) loginEx(c *call) reply    { return s.signIn(c, false, true) }

func (s *Server) signIn(c *call, force, ex bool) reply {
	var b loginBody
	if err := decodeBody(c.w, c.r, &b, false); err != nil {
		return reply{code: ccgw.RetLoginParam, err: err}
	}
	if b.PushURL.v != "" {
		c.flags |= flagPushURL
	}
	req, code := validateLogin(&b, ex, s.cfg.CheckCallback)
	if code != ccgw.RetOK {
		return fail(code)
	}
	req.Op, req.Force = c.name, force
	req.Session.Agent = c.agent
	if req.Session.Mode == ccgw.ModePush {
		c.flags |= flagPush
	}
	sess, err := s.cfg.Sessions.SignIn(c.r.Context(), req)
	if err != nil {
		return failed(err)
	}
	return reply{
		code:  ccgw.RetOK,
		quiet: true,
		result: loginResult{
			VDNID:         1,
			WorkNo:        c.agent.String(),
			MediaType:     sess.MediaType,
			LoginTime:     strconv.FormatInt(sess.LoginTime, 10),
			IsForceChange: "false",
			ServerName:    "AgentGateway",
			TimeRemaining: "",
		},
		setGUID: sess.GUID,
		guidHdr: true,
	}
}

// validateLogin checks a sign-in body field by field and returns the request, or
// the retcode of the first field that is wrong. A callback URL that check (if
// set) refuses is wrong: 100-001.
func validateLogin(b *loginBody, ex bool, check func(string) error) (ccgw.SignIn, ccgw.Retcode) {
	var req ccgw.SignIn
	switch {
	case !ex && !b.Password.set:
		// A password sent empty is the directory's to judge: it signs in an
		// agent that has none (the vendor's deployments where agents have no
		// password; com.Zackeus.CTI sends "" always), never one that has.
		return req, ccgw.RetLoginParam
	case utf8.RuneCountInString(b.Password.v) > 32:
		return req, ccgw.RetLoginParam
	case !ex && b.PhoneNum.v == "":
		return req, ccgw.RetLoginParam
	case b.PhoneNum.v != "" && !validPhone(b.PhoneNum.v):
		return req, ccgw.RetBadPhone
	case b.VCPhoneNumber.v != "" && !validPhone(b.VCPhoneNumber.v):
		return req, ccgw.RetBadPhone
	}
	agentType := 4
	if b.AgentType.set {
		if b.AgentType.v != 4 && b.AgentType.v != 11 {
			return req, ccgw.RetWrongAgentType
		}
		agentType = int(b.AgentType.v)
	}
	status := ccgw.StateIdle
	if b.Status.set {
		switch ccgw.AgentState(b.Status.v) {
		case ccgw.StateBusy, ccgw.StateIdle, ccgw.StateWork:
			status = ccgw.AgentState(b.Status.v)
		default:
			return req, ccgw.RetLoginInvalidParam
		}
	}
	ip := "127.0.0.1"
	if b.IP.v != "" {
		if !validIPv4(b.IP.v) {
			return req, ccgw.RetBadIP
		}
		ip = b.IP.v
	}
	if b.EntryIP.v != "" && !validIPv4(b.EntryIP.v) {
		return req, ccgw.RetBadIP
	}
	uri, token := b.CallBackURI.v, b.ServiceToken.v
	if uri != "" && !validCallback(uri) {
		return req, ccgw.RetLoginParam
	}
	if token != "" && !validToken(token) {
		return req, ccgw.RetLoginParam
	}
	mode, legacy := ccgw.ModePoll, false
	switch {
	case uri != "" && token != "":
		mode = ccgw.ModePush
	case b.PushURL.v != "":
		if !validCallback(b.PushURL.v) {
			return req, ccgw.RetLoginParam
		}
		mode, legacy, uri, token = ccgw.ModePush, true, b.PushURL.v, ""
	}
	if mode == ccgw.ModePush && check != nil && check(uri) != nil {
		return req, ccgw.RetLoginParam
	}
	media := "TFF"
	if !ex && (!b.CheckInWebm.set || b.CheckInWebm.v) {
		media = "TTF"
	}
	req.Password = b.Password.v // loginEx's may be empty: only a directory with no password configured accepts that
	req.Status = status
	req.Session = ccgw.Session{
		Phone:         b.PhoneNum.v,
		AutoAnswer:    !b.AutoAnswer.set || b.AutoAnswer.v,
		AutoEnterIdle: !b.AutoEnterIdle.set || b.AutoEnterIdle.v,
		ReleasePhone:  !b.ReleasePhone.set || b.ReleasePhone.v,
		AgentType:     agentType,
		IP:            ip,
		MediaType:     media,
		Mode:          mode,
		CallbackURI:   uri,
		ServiceToken:  token,
		LegacyPush:    legacy,
	}
	if mode == ccgw.ModePoll {
		req.Session.CallbackURI, req.Session.ServiceToken = "", ""
	}
	return req, ccgw.RetOK
}

// validPhone accepts 1–24 characters of digits, with * # + as phones allow.
func validPhone(p string) bool {
	if len(p) == 0 || len(p) > 24 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if (c < '0' || c > '9') && c != '*' && c != '#' && !(c == '+' && i == 0) {
			return false
		}
	}
	return true
}

func validIPv4(s string) bool {
	if len(s) > 15 {
		return false
	}
	ip := net.ParseIP(s)
	return ip != nil && ip.To4() != nil && !containsColon(s)
}

func containsColon(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return true
		}
	}
	return false
}

// validCallback accepts an absolute http or https URL of at most 200 characters.
func validCallback(s string) bool {
	if len(s) > 200 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// validToken accepts a service token of 1–50 letters, digits, '-', '_' and '.'
// ("no special characters"; the three punctuation marks appear in UUIDs and
// JWT-like tokens that clients send).
func validToken(t string) bool {
	if len(t) == 0 || len(t) > 50 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

func (s *Server) logout(c *call) reply {
	if err := s.cfg.Sessions.SignOut(c.r.Context(), c.agent, c.guid(), ccgw.CauseLogout); err != nil {
		return failed(err)
	}
	return ok(emptyResult)
}

func (s *Server) forceLogout(c *call) reply {
	if err := s.cfg.Sessions.SignOut(c.r.Context(), c.agent, c.guid(), ccgw.CauseForceLogout); err != nil {
		return failed(err)
	}
	return ok(nil)
}

func (s *Server) forceLogoutWithReason(c *call) reply {
	reason, err := strconv.Atoi(c.vars[0])
	if err != nil || reason < 1 || reason > 255 {
		return fail(ccgw.RetLogoutParam)
	}
	if err := s.cfg.Sessions.SignOut(c.r.Context(), c.agent, c.guid(), ccgw.CauseForceLogout); err != nil {
		return failed(err)
	}
	return ok(nil)
}

// serviceTokenKey is the canonical form of the handShake's service_token header,
// as net/http stores it: Header.Get("service_token") canonicalises, allocating,
// on every heartbeat.
const serviceTokenKey = "Service_token"

func (s *Server) handShake(c *call) reply {
	var token string
	if v := c.r.Header[serviceTokenKey]; len(v) > 0 {
		token = v[0]
	}
	if token != "" && !validToken(token) {
		return fail(ccgw.RetLoginParam)
	}
	g, err := s.cfg.Sessions.Heartbeat(c.r.Context(), c.agent, c.guid(), token)
	if err != nil {
		return failed(err)
	}
	return reply{code: ccgw.RetOK, setGUID: g}
}

// heartBeatResult is the result of the older gateways' heartbeat: its clients
// (the vendor's Java agent demo) read result.loginTime, and without a result
// object re-send at once instead of waiting their period.
type heartBeatResult struct {
	LoginTime string `json:"loginTime"`
}

// heartBeat is the older gateways' PUT .../heartbeat: it keeps the session
// alive as handShake does (either mode), and answers the sign-in time.
func (s *Server) heartBeat(c *call) reply {
	g, err := s.cfg.Sessions.Heartbeat(c.r.Context(), c.agent, c.guid(), "")
	if err != nil {
		return failed(err)
	}
	sess, ok := s.cfg.Sessions.Lookup(c.r.Context(), c.agent)
	if !ok {
		return fail(ccgw.RetNotSignedIn)
	}
	return reply{code: ccgw.RetOK, result: heartBeatResult{LoginTime: strconv.FormatInt(sess.LoginTime, 10)}, setGUID: g}
}

// getAgentEvent holds the poll up to PollWait for an event. A client IP with
// MaxPollsPerIP polls held already is answered at once: HTTP 429, Retry-After:
// 1, retcode 000-007 (the interface is invoked repeatedly); that refused poll
// does not renew the session.
func (s *Server) getAgentEvent(c *call) reply {
	ip := netlimit.HostIP(c.r.RemoteAddr)
	if !s.polls.Acquire(ip) {
		return reply{code: ccgw.RetRepeated, status: http.StatusTooManyRequests, retryAfter: 1}
	}
	defer s.polls.Release(ip)
	if s.cfg.WriteTimeout > 0 && s.cfg.PollWait > 0 {
		// The server's deadlines run from the request's start; a held poll needs
		// its wait on top. The read deadline matters too: the server reads in the
		// background while the handler runs, and a read timeout there would cancel
		// the poll. Errors mean a writer without deadlines (a test's recorder).
		rc := http.NewResponseController(c.w)
		d := time.Now().Add(s.cfg.PollWait + s.cfg.WriteTimeout)
		_ = rc.SetWriteDeadline(d)
		_ = rc.SetReadDeadline(d)
	}
	ev, g, err := s.cfg.Sessions.Poll(c.r.Context(), c.agent, c.guid(), s.cfg.PollWait)
	if err != nil {
		return failed(err)
	}
	return reply{code: ccgw.RetOK, poll: true, quiet: true, event: ev, setGUID: g}
}

// statusResult is the getAgentStatus result.
type statusResult struct {
	AgentState ccgw.AgentState `json:"agentState"`
	IsWorking  bool            `json:"isWorking"`
}

func (s *Server) getAgentStatus(c *call) reply {
	sess, err := s.cfg.Sessions.Session(c.r.Context(), c.agent, c.guid())
	if err != nil {
		return failed(err)
	}
	return quietOK(statusResult{AgentState: sess.State, IsWorking: sess.State == ccgw.StateTalking})
}

func (s *Server) updateGuid(c *call) reply {
	g, err := s.cfg.Sessions.UpdateGUID(c.r.Context(), c.agent, c.guid())
	if err != nil {
		return failed(err)
	}
	return reply{code: ccgw.RetOK, result: map[string]string{"guid": g}, setGUID: g}
}
