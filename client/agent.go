package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
)

// Agent is one agent's session with the gateway: its work number, its current
// GUID and its service token. It is safe for concurrent use: a KeepAlive loop,
// an Events loop and the agent's own calls share it.
//
// Every method that takes a context sends one request and returns nil, an
// *Error with the retcode the gateway answered, an *AnswerError for an answer
// without one, or a wrapped transport (or context) error.
type Agent struct {
	c      *Client
	workNo string
	path   string // workNo escaped for a path segment

	mu    sync.Mutex // guards guid, token, gen; never held across a request
	guid  string
	token string
	gen   uint64 // sign-ins through this Agent; sequence numbers restart with each
}

// WorkNo returns the agent's work number.
func (a *Agent) WorkNo() string { return a.workNo }

// GUID returns the GUID the Agent sends, "" before a sign-in.
func (a *Agent) GUID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.guid
}

// SetGUID makes the Agent use guid, one it got elsewhere (a session kept over
// a restart of the program, say). A "JSESSIONID=" prefix is removed.
func (a *Agent) SetGUID(guid string) {
	a.mu.Lock()
	a.guid = parseGUID(guid)
	a.mu.Unlock()
}

// SetServiceToken replaces the token that Heartbeat sends in its service_token
// header (push mode); the gateway keeps the newest.
func (a *Agent) SetServiceToken(token string) {
	a.mu.Lock()
	a.token = token
	a.mu.Unlock()
}

func (a *Agent) state() (guid, token string, gen uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.guid, a.token, a.gen
}

// parseGUID returns the GUID in a Set-GUID value ("JSESSIONID=<guid>", maybe
// followed by cookie attributes) or a bare GUID.
func parseGUID(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	if k, g, ok := strings.Cut(v, "="); ok && strings.EqualFold(k, "JSESSIONID") {
		v = g
	}
	return v
}

// call sends rq with the Agent's GUID. If the answer succeeds and carries a
// Set-GUID, the Agent switches to it — unless it has switched since rq was
// sent: an answer to an older request must not roll a newer GUID back (the
// gateway keeps accepting the previous GUID for a while and names the newest in
// its next answer).
func (a *Agent) call(ctx context.Context, rq request) (answer, error) {
	rq.auth = true
	sent, _, _ := a.state()
	ans, err := a.c.do(ctx, a.workNo, rq, sent)
	if err != nil {
		return answer{}, err
	}
	if v := ans.header.Get("Set-GUID"); v != "" {
		if g := parseGUID(v); g != "" && g != sent {
			a.mu.Lock()
			switched := a.guid == sent
			if switched {
				a.guid = g
			}
			a.mu.Unlock()
			if switched {
				a.c.log.Debug("GUID switched", "agent", a.workNo, "method", rq.op, "guid", clip(g))
			}
		}
	}
	return ans, nil
}

// decode unmarshals an answer's result into v.
func decode(op string, ans answer, v any) error {
	if len(ans.result) == 0 {
		return nil
	}
	if err := json.Unmarshal(ans.result, v); err != nil {
		return fmt.Errorf("client: %s: result: %w", op, err)
	}
	return nil
}

// SignInParams is the sign-in body. Password and PhoneNum are required; a zero
// field is left out, so that the gateway's default applies.
type SignInParams struct {
	Password string
	PhoneNum string // the phone the agent answers calls on
	// Force signs in even if the agent is signed in elsewhere (forceLogin): that
	// session ends, and its client gets AgentOther_ShutdownService.
	Force bool
	// Status is the state after sign-in: ccgw.StateBusy (3), StateIdle (4),
	// StateWork (5); 0: idle.
	Status AgentState
	// AutoAnswer, AutoEnterIdle and ReleasePhone: nil leaves the gateway's
	// default (true).
	AutoAnswer    *bool
	AutoEnterIdle *bool
	ReleasePhone  *bool
	AgentType     int    // 4 PC+phone (default), 11 PC+phone with the phone on the PC
	IP            string // the agent's IPv4 address
	// CallBackURI and ServiceToken together select push mode: the gateway
	// POSTs events to CallBackURI (see PushHandler). ServiceToken is also sent
	// by Heartbeat.
	CallBackURI  string
	ServiceToken string
	// PushURL is the older gateways' push field: each event is pushed alone in
	// a poll answer's envelope.
	PushURL string
}

type signInBody struct {
	Password      string     `json:"password"`
	PhoneNum      string     `json:"phonenum"`
	Status        AgentState `json:"status,omitempty"`
	AutoAnswer    *bool      `json:"autoanswer,omitempty"`
	AutoEnterIdle *bool      `json:"autoenteridle,omitempty"`
	ReleasePhone  *bool      `json:"releasephone,omitempty"`
	AgentType     int        `json:"agenttype,omitempty"`
	IP            string     `json:"ip,omitempty"`
	CallBackURI   string     `json:"callBackUri,omitempty"`
	ServiceToken  string     `json:"serviceToken,omitempty"`
	PushURL       string     `json:"pushUrl,omitempty"`
}

// SignInResult is what a successful sign-in answers.
type SignInResult struct {
	GUID          string    // the session's GUID (Set-GUID), which the Agent now uses
	WorkNo        string    // the agent's work number
	VDNID         int       // the virtual call centre the agent belongs to
	MediaType     string    // media flags, e.g. "TTF"
	LoginTime     time.Time // when the session began (zero if not sent)
	IsForceChange bool      // the password must be changed before work
	ServerName    string
}

type signInResult struct {
	VDNID         number `json:"vdnid"`
	WorkNo        text   `json:"workno"`
	MediaType     text   `json:"mediatype"`
	LoginTime     number `json:"loginTime"`
	IsForceChange text   `json:"isForceChange"`
	ServerName    text   `json:"serverName"`
}

// SignIn signs the agent in (login, or forceLogin with p.Force) and makes the
// Agent use the session's GUID. Sequence numbers of events restart with it.
// A signed-in agent without p.Force gets an *Error with ccgw.RetAlreadySignedIn
// (100-002).
func (a *Agent) SignIn(ctx context.Context, p SignInParams) (*SignInResult, error) {
	rq := request{op: "login", method: http.MethodPut, path: "onlineagent/" + a.seg()}
	if p.Force {
		rq.op, rq.path = "forceLogin", rq.path+"/forcelogin"
	}
	rq.body = signInBody{
		Password: p.Password, PhoneNum: p.PhoneNum, Status: p.Status, AutoAnswer: p.AutoAnswer,
		AutoEnterIdle: p.AutoEnterIdle, ReleasePhone: p.ReleasePhone, AgentType: p.AgentType, IP: p.IP,
		CallBackURI: p.CallBackURI, ServiceToken: p.ServiceToken, PushURL: p.PushURL,
	}
	ans, err := a.c.do(ctx, a.workNo, rq, "")
	if err != nil {
		return nil, err
	}
	var r signInResult
	if err := decode(rq.op, ans, &r); err != nil {
		return nil, err
	}
	guid := parseGUID(ans.header.Get("Set-GUID"))
	if guid == "" {
		guid = parseGUID(ans.header.Get("Guid")) // what some gateways' clients read instead
	}
	if guid == "" {
		return nil, &AnswerError{Op: rq.op, Status: http.StatusOK, Err: fmt.Errorf("sign-in answer without Set-GUID")}
	}
	a.mu.Lock()
	a.guid, a.token = guid, p.ServiceToken
	a.gen++
	a.mu.Unlock()
	a.c.log.Debug("signed in", "agent", a.workNo, "guid", clip(guid))
	res := &SignInResult{
		GUID: guid, WorkNo: r.WorkNo.s, VDNID: int(r.VDNID), MediaType: r.MediaType.s,
		IsForceChange: strings.EqualFold(r.IsForceChange.s, "true"), ServerName: r.ServerName.s,
	}
	if r.LoginTime != 0 {
		res.LoginTime = time.UnixMilli(int64(r.LoginTime))
	}
	return res, nil
}

// seg returns the work number as a path segment.
func (a *Agent) seg() string { return a.path }

func (a *Agent) simple(ctx context.Context, op, method, path, query string) error {
	_, err := a.call(ctx, request{op: op, method: method, path: path, query: query})
	return err
}

func (a *Agent) online(verb string) string { return "onlineagent/" + a.seg() + "/" + verb }

// SignOut signs the agent out (logout). The gateway sends its client no
// AgentOther_ShutdownService for it. A talking agent gets an *Error with
// ccgw.RetLogoutStateError (100-010).
func (a *Agent) SignOut(ctx context.Context) error {
	return a.simple(ctx, "logout", http.MethodDelete, a.online("logout"), "")
}

// ForceSignOut signs the agent out even while it talks (forceLogout).
func (a *Agent) ForceSignOut(ctx context.Context) error {
	return a.simple(ctx, "forceLogout", http.MethodDelete, a.online("forcelogout"), "")
}

// Heartbeat keeps the session alive (handShake), with the service token of the
// sign-in or SetServiceToken, if any. In dynamic GUID mode its answer may
// rotate the GUID. An agent that is signed out gets an *Error with
// ccgw.RetNotSignedIn (100-006).
func (a *Agent) Heartbeat(ctx context.Context) error {
	_, token, _ := a.state()
	_, err := a.call(ctx, request{op: "handShake", method: http.MethodPost, path: a.online("handshake"), token: token})
	return err
}

// UpdateGUID asks the gateway for a fresh GUID (updateGuid) and switches to it;
// the old one stays valid for the gateway's GUID timeout. It returns the new
// GUID.
func (a *Agent) UpdateGUID(ctx context.Context) (string, error) {
	sent, _, _ := a.state()
	ans, err := a.call(ctx, request{op: "updateGuid", method: http.MethodPut, path: a.online("updateGuid")})
	if err != nil {
		return "", err
	}
	var r struct {
		GUID text `json:"guid"`
	}
	if err := decode("updateGuid", ans, &r); err != nil {
		return "", err
	}
	if g := parseGUID(r.GUID.s); g != "" {
		a.mu.Lock()
		if a.guid == sent { // as call: never roll a newer GUID back
			a.guid = g
		}
		a.mu.Unlock()
		return g, nil
	}
	return a.GUID(), nil
}

// Poll takes one event (getAgentEvent). The gateway holds the request until an
// event comes or its poll wait (10 s by default) passes; Poll returns nil, nil
// for an answer without an event. A push-mode session gets an *Error with
// ccgw.RetWrongEventMethod (000-001).
func (a *Agent) Poll(ctx context.Context) (*Event, error) {
	ev, _, err := a.poll(ctx)
	return ev, err
}

// poll is Poll, also returning the Agent's sign-in count when it was sent.
func (a *Agent) poll(ctx context.Context) (*Event, uint64, error) {
	_, _, gen := a.state()
	ans, err := a.call(ctx, request{op: "getAgentEvent", method: http.MethodGet, path: "agentevent/" + a.seg()})
	if err != nil {
		return nil, gen, err
	}
	if len(ans.event) == 0 || string(ans.event) == "null" {
		return nil, gen, nil
	}
	var w wireEvent
	if err := json.Unmarshal(ans.event, &w); err != nil {
		return nil, gen, fmt.Errorf("client: getAgentEvent: event: %w", err)
	}
	seq, _ := strconv.ParseUint(ans.header.Get(SeqHeader), 10, 64)
	ev := w.event(seq)
	return &ev, gen, nil
}

// SeqHeader is ccgw's header of an event's sequence number (numbered from 1
// per sign-in): of a poll answer's event, or of a push's first event (the
// others follow it one by one). The vendor's gateway does not send it.
const SeqHeader = ccgw.SeqHeader

// Status is the agent's state (getAgentStatus).
type Status struct {
	State     AgentState // ccgw.StateIdle, StateBusy, …
	IsWorking bool       // in a call
}

// Status returns the agent's state (getAgentStatus).
func (a *Agent) Status(ctx context.Context) (Status, error) {
	ans, err := a.call(ctx, request{op: "getAgentStatus", method: http.MethodGet, path: a.online("agentstatus")})
	if err != nil {
		return Status{}, err
	}
	var r struct {
		AgentState number `json:"agentState"`
		IsWorking  text   `json:"isWorking"`
	}
	if err := decode("getAgentStatus", ans, &r); err != nil {
		return Status{}, err
	}
	return Status{State: AgentState(r.AgentState), IsWorking: strings.EqualFold(r.IsWorking.s, "true")}, nil
}

// SayBusy makes the agent busy (sayBusy) with reason, 200–250 or 0 for none.
// Like the other state calls it answers at once; the change comes as an event
// (AgentState_SetNotReady_Success), and a refused change is an *Error with
// ccgw.RetSetStateFailed (100-009).
func (a *Agent) SayBusy(ctx context.Context, reason int) error {
	q := ""
	if reason != 0 {
		q = "reason=" + strconv.Itoa(reason)
	}
	return a.simple(ctx, "sayBusy", http.MethodPost, a.online("saybusy"), q)
}

// SayFree makes the agent idle from busy, work or rest (sayFree).
func (a *Agent) SayFree(ctx context.Context) error {
	return a.simple(ctx, "sayFree", http.MethodPost, a.online("sayfree"), "")
}

// CancelBusy leaves the busy state (cancelBusy).
func (a *Agent) CancelBusy(ctx context.Context) error {
	return a.simple(ctx, "cancelBusy", http.MethodPost, a.online("cancelbusy"), "")
}

// Rest puts the agent at rest for d (rounded up to whole seconds, 1 s to
// 86399 s) with cause 0–255 (rest).
func (a *Agent) Rest(ctx context.Context, d time.Duration, cause int) error {
	secs := int64((d + time.Second - 1) / time.Second)
	path := a.online("rest/" + strconv.FormatInt(secs, 10) + "/" + strconv.Itoa(cause))
	return a.simple(ctx, "rest", http.MethodPost, path, "")
}

// CancelRest ends a rest (cancelRest).
func (a *Agent) CancelRest(ctx context.Context) error {
	return a.simple(ctx, "cancelRest", http.MethodPost, a.online("cancelrest"), "")
}

// Work puts the agent in the work (wrap-up) state (sayWork).
func (a *Agent) Work(ctx context.Context) error {
	return a.simple(ctx, "sayWork", http.MethodPost, a.online("work"), "")
}

// CancelWork leaves the work state for idle (cancelWork).
func (a *Agent) CancelWork(ctx context.Context) error {
	return a.simple(ctx, "cancelWork", http.MethodPost, a.online("cancelwork"), "")
}

// ResetSkill signs the agent in to skills (resetSkill): with auto, to all its
// configured skills (skills are then ignored); else to those of skills that
// are configured for it.
func (a *Agent) ResetSkill(ctx context.Context, auto bool, skills ...int) error {
	q := ""
	if len(skills) > 0 {
		ids := make([]string, len(skills))
		for i, s := range skills {
			ids[i] = strconv.Itoa(s)
		}
		q = "skillid=" + strings.Join(ids, ";") // unescaped, as the vendor's clients send it
	}
	return a.simple(ctx, "resetSkill", http.MethodPost, a.online("resetskill/"+strconv.FormatBool(auto)), q)
}

func (a *Agent) voice(verb string) string { return "voicecall/" + a.seg() + "/" + verb }

// Answer answers the ringing call (answer); callID "" leaves the choice to the
// gateway (the vendor requires it only when several calls alert). No call to
// answer is an *Error with ccgw.RetAnswerNoCall (200-002).
func (a *Agent) Answer(ctx context.Context, callID string) error {
	q := ""
	if callID != "" {
		q = "callid=" + url.QueryEscape(callID)
	}
	return a.simple(ctx, "answer", http.MethodPut, a.voice("answer"), q)
}

// Release hangs up the current call (release); with none, an *Error with
// ccgw.RetReleaseNoCall (200-017).
func (a *Agent) Release(ctx context.Context) error {
	return a.simple(ctx, "release", http.MethodDelete, a.voice("release"), "")
}

// Hold puts the current call on hold (hold).
func (a *Agent) Hold(ctx context.Context) error {
	return a.simple(ctx, "hold", http.MethodPost, a.voice("hold"), "")
}

// Retrieve takes the held call callID back (getHold).
func (a *Agent) Retrieve(ctx context.Context, callID string) error {
	return a.simple(ctx, "getHold", http.MethodPost, a.voice("gethold"), "callid="+url.QueryEscape(callID))
}

// Callout calls the number called (callout) and returns the new call's ID.
// The call's progress comes as events. A wrong number is an *Error with
// ccgw.RetCallBadNumber (200-001).
func (a *Agent) Callout(ctx context.Context, called string) (string, error) {
	body := struct {
		Called string `json:"called"`
	}{called}
	ans, err := a.call(ctx, request{op: "callout", method: http.MethodPut, path: a.voice("callout"), body: body})
	if err != nil {
		return "", err
	}
	var id text
	if err := decode("callout", ans, &id); err != nil {
		return "", err
	}
	return id.s, nil
}

// CallInfo is a call's information (queryCallInfo). Raw holds the whole
// result, for the fields not listed here.
type CallInfo struct {
	CallID      string
	Caller      string
	Called      string
	CallFeature int    // call type: 0 inbound, 7 outbound, …
	SkillName   string // the skill the call came through
	SkillID     int
	CallData    string    // call-associated data
	Begin       time.Time // when it was answered; zero before
	Raw         json.RawMessage
}

type callInfo struct {
	CallID      text   `json:"callid"`
	Caller      text   `json:"caller"`
	Called      text   `json:"called"`
	CallFeature number `json:"callfeature"`
	CallSkill   text   `json:"callskill"`
	CallSkillID number `json:"callskillid"`
	CallData    text   `json:"calldata"`
	BeginTime   number `json:"begintime"`
}

// CallInfo returns the agent's current call (queryCallInfo with
// isNoContainLastCall=true), or nil if it has none.
func (a *Agent) CallInfo(ctx context.Context) (*CallInfo, error) {
	const op = "queryCallInfo"
	ans, err := a.call(ctx, request{op: op, method: http.MethodGet,
		path: "calldata/" + a.seg() + "/callinfo", query: "isNoContainLastCall=true"})
	if err != nil {
		return nil, err
	}
	var r callInfo
	if err := decode(op, ans, &r); err != nil {
		return nil, err
	}
	if r.CallID.s == "" {
		return nil, nil
	}
	ci := &CallInfo{CallID: r.CallID.s, Caller: r.Caller.s, Called: r.Called.s, CallFeature: int(r.CallFeature),
		SkillName: r.CallSkill.s, SkillID: int(r.CallSkillID), CallData: r.CallData.s, Raw: ans.result}
	if r.BeginTime != 0 {
		ci.Begin = time.UnixMilli(int64(r.BeginTime))
	}
	return ci, nil
}
