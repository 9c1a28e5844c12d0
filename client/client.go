package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ccgw/ccgw"
)

// Retcode is the gateway's result code: "0" for success, otherwise "NNN-NNN".
// It is the root package's type, with its constants (ccgw.RetNotSignedIn, …)
// and message table.
type Retcode = ccgw.Retcode

// Event is one agent event, polled or pushed. Seq is ccgw's sequence number of
// the event (from 1 per sign-in; the X-CCGW-Seq header), 0 from a gateway that
// does not send one. GenTime is 0 when the gateway leaves eventGenTime out.
type Event = ccgw.Event

// AgentState is the gateway's agent state code (ccgw.StateIdle, …).
type AgentState = ccgw.AgentState

// Timer is a stoppable one-shot timer, as a Clock makes it.
type Timer = ccgw.Timer

// Clock is the source of time of an Agent's loops (KeepAlive, Events). Every
// ccgw.Clock is one.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that sends the time on its channel after d.
	NewTimer(d time.Duration) Timer
}

// Client talks to one gateway. It is safe for concurrent use; its Agents share
// its HTTP client.
type Client struct {
	base    string // scheme://host[:port]/path, without a trailing slash
	hc      *http.Client
	clock   Clock
	log     *slog.Logger
	observe func(context.Context, Observation) // nil: none
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests through hc (TLS settings,
// proxies, timeouts). hc's Timeout, if set, must exceed the gateway's poll wait
// (10 s by default), or every empty poll fails. The default client times a
// request out after DefaultTimeout. A program that keeps many agents' requests
// in flight at once wants a Transport that keeps as many connections idle
// (MaxIdleConnsPerHost; net/http's default keeps 2), or it opens and closes a
// connection for most requests; MaxConnsPerHost bounds them.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithClock makes the Agents' loops take their time from clk instead of the
// wall clock (for tests).
func WithClock(clk Clock) Option { return func(c *Client) { c.clock = clk } }

// WithLogger makes the Client log to l: each request at Debug (interface name,
// agent, retcode, or "error" if there was no answer, and duration), GUID
// switches at Debug and loop failures at Warn. GUIDs are clipped to their
// first 8 characters. The default discards.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithObserver makes the Client call f once for every request it sends, with
// the request's context, when the request has been answered (its whole answer
// read) or has failed, before the method that sent it returns and in its
// goroutine. f sees every interface call, from the Agent's methods and its
// loops alike: it is where a program counts requests by interface and retcode
// or measures their latency. It must be safe for concurrent use and quick: the
// call waits for it. A request that could not be made (a body that does not
// marshal) is not observed; one whose context had ended is, with the
// context's error.
func WithObserver(f func(ctx context.Context, o Observation)) Option {
	return func(c *Client) { c.observe = f }
}

// Observation is one request as WithObserver reports it.
type Observation struct {
	Op     string // the vendor's interface name, e.g. "handShake"
	WorkNo string // the agent's work number
	// Start is when the request was handed to the HTTP client, and Took how
	// long it was until the whole answer was read (or the request failed):
	// the round trip without building the request or decoding the answer.
	// Both are from the wall clock's monotonic reading, whatever the Client's
	// Clock.
	Start time.Time
	Took  time.Duration
	// Status is the answer's HTTP status, 0 if there was none. Code is its
	// retcode ("0" for success), "" if there was no answer or it had none (an
	// *AnswerError).
	Status int
	Code   Retcode
	// Err is the transport's (or the context's) error, unwrapped, when there
	// was no answer or it could not be read; nil when there was an answer,
	// whatever its retcode.
	Err error
}

// DefaultTimeout bounds a request of the default HTTP client.
const DefaultTimeout = time.Minute

// New returns a Client for the gateway at baseURL, the vendor's resource root
// such as https://host:8043/agentgateway/resource (a trailing slash is
// ignored). It fails only if baseURL is not an absolute http or https URL.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http(s)://host/…", baseURL)
	}
	c := &Client{base: strings.TrimRight(baseURL, "/")}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: DefaultTimeout}
	}
	if c.clock == nil {
		c.clock = realClock{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Agent returns a handle for the agent with work number workNo. It holds the
// agent's GUID once signed in: use one Agent per session, from any number of
// goroutines.
func (c *Client) Agent(workNo string) *Agent {
	return &Agent{c: c, workNo: workNo, path: url.PathEscape(workNo)}
}

// Error is an answer of the gateway with a retcode other than "0". Code and
// Message are as the gateway sent them; Op is the vendor's name of the
// interface (e.g. "handShake"); Status is the HTTP status, 200 for every
// business error (ccgw answers 404 or 405 for an unknown path or method).
type Error struct {
	Op      string
	Code    Retcode
	Message string
	Status  int
}

func (e *Error) Error() string {
	s := "client: " + e.Op + ": " + string(e.Code)
	if e.Message != "" {
		s += " " + e.Message
	}
	return s
}

// CodeOf returns the retcode of err: RetOK for nil, the Code of an *Error in
// err's chain, and "" for any other error (the gateway did not answer with a
// retcode).
func CodeOf(err error) Retcode {
	if err == nil {
		return ccgw.RetOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// AnswerError is an answer that is not the vendor's envelope: not JSON, or
// without a retcode (a proxy's error page, say).
type AnswerError struct {
	Op     string
	Status int   // HTTP status
	Err    error // why the body did not decode, if it did not
}

func (e *AnswerError) Error() string {
	s := fmt.Sprintf("client: %s: HTTP %d without a retcode", e.Op, e.Status)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *AnswerError) Unwrap() error { return e.Err }

// maxAnswer is the most of an answer's body that is read.
const maxAnswer = 4 << 20

// readAnswer reads resp's body, at most maxAnswer bytes of it: into a buffer
// of its Content-Length when it has one (every answer of ccgw's), else as it
// comes. Reading the last byte of a body of known length reads its end too, so
// its connection is reused.
func readAnswer(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= maxAnswer {
		b := make([]byte, n)
		_, err := io.ReadFull(resp.Body, b)
		return b, err
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
}

// request is one interface call.
type request struct {
	op     string // the vendor's interface name
	method string
	path   string // below the base, e.g. "onlineagent/1001/handshake"
	query  string // raw query, without '?'
	body   any    // sent as JSON if non-nil
	auth   bool   // send the Agent's GUID
	token  string // sent as service_token if non-empty
}

// answer is a decoded successful answer.
type answer struct {
	header http.Header
	result json.RawMessage
	event  json.RawMessage
}

// envelope is the body of every answer.
type envelope struct {
	Message text            `json:"message"`
	Retcode text            `json:"retcode"`
	Result  json.RawMessage `json:"result"`
	Event   json.RawMessage `json:"event"`
}

// do sends rq with guid (if rq.auth) and returns the answer if its retcode is
// "0", an *Error with the retcode otherwise, an *AnswerError for a body that is
// not an envelope, and a wrapped transport error if there was no answer.
func (c *Client) do(ctx context.Context, agent string, rq request, guid string) (answer, error) {
	u := c.base + "/" + rq.path
	if rq.query != "" {
		u += "?" + rq.query
	}
	var body io.Reader
	if rq.body != nil {
		b, err := json.Marshal(rq.body)
		if err != nil {
			return answer{}, fmt.Errorf("client: %s: %w", rq.op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, u, body)
	if err != nil {
		return answer{}, fmt.Errorf("client: %s: %w", rq.op, err)
	}
	req.Header.Set("Accept", "application/json")
	if rq.body != nil {
		req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	}
	if rq.auth && guid != "" {
		req.Header.Set("Guid", guid)
	}
	if rq.token != "" {
		req.Header["service_token"] = []string{rq.token} // the vendor's spelling, not canonical
	}
	o := Observation{Op: rq.op, WorkNo: agent, Start: time.Now()}
	resp, err := c.hc.Do(req)
	if err != nil {
		o.Took, o.Err = time.Since(o.Start), err
		c.finish(ctx, &o, "")
		return answer{}, fmt.Errorf("client: %s: %w", rq.op, err)
	}
	defer resp.Body.Close()
	o.Status = resp.StatusCode
	b, err := readAnswer(resp)
	o.Took = time.Since(o.Start)
	if err != nil {
		o.Err = err
		c.finish(ctx, &o, "")
		return answer{}, fmt.Errorf("client: %s: reading the answer: %w", rq.op, err)
	}
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil || !env.Retcode.set {
		if err == nil {
			err = errors.New("no retcode")
		}
		c.finish(ctx, &o, "HTTP "+resp.Status)
		return answer{}, &AnswerError{Op: rq.op, Status: resp.StatusCode, Err: err}
	}
	o.Code = Retcode(env.Retcode.s)
	c.finish(ctx, &o, env.Retcode.s)
	if o.Code != ccgw.RetOK {
		return answer{}, &Error{Op: rq.op, Code: o.Code, Message: env.Message.s, Status: resp.StatusCode}
	}
	return answer{header: resp.Header, result: env.Result, event: env.Event}, nil
}

// finish logs the request o at Debug, as answered with what ("" for no answer),
// and hands o to the observer.
func (c *Client) finish(ctx context.Context, o *Observation, what string) {
	if c.log.Enabled(ctx, slog.LevelDebug) {
		if o.Err != nil {
			what = "error"
		}
		c.log.LogAttrs(ctx, slog.LevelDebug, "request", slog.String("method", o.Op), slog.String("agent", o.WorkNo),
			slog.String("retcode", what), slog.Duration("took", o.Took))
	}
	if c.observe != nil {
		c.observe(ctx, *o)
	}
}

// sleep waits d on the Client's clock; it returns ctx's error if ctx ends first.
func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	t := c.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time                 { return time.Now() }
func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

// text decodes a JSON string, number or boolean as its text; null leaves it
// unset. Gateways and their versions differ on which of these they send.
type text struct {
	s   string
	set bool
}

func (t *text) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) >= 2 && b[0] == '"':
		t.set = true
		if in := b[1 : len(b)-1]; bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
			t.s = string(in) // nothing to unescape or replace (the decoder has checked the JSON)
			return nil
		}
		return json.Unmarshal(b, &t.s)
	case len(b) > 0 && (b[0] == '{' || b[0] == '['):
		return fmt.Errorf("client: %.20s… where a string or number belongs", b)
	}
	t.s, t.set = string(b), true
	return nil
}

// number decodes a JSON number or a string holding one; null and "" are 0.
type number int64

func (n *number) UnmarshalJSON(b []byte) error {
	var t text
	if err := t.UnmarshalJSON(b); err != nil || t.s == "" {
		return err
	}
	i, err := json.Number(t.s).Int64()
	if err != nil {
		return fmt.Errorf("client: %q is not an integer", t.s)
	}
	*n = number(i)
	return nil
}

// wireEvent is an event as it comes in a poll answer or a push, tolerant of a
// work number or time sent as a number or a string.
type wireEvent struct {
	Type    text            `json:"eventType"`
	GenTime number          `json:"eventGenTime"`
	WorkNo  text            `json:"workNo"`
	Content json.RawMessage `json:"content"`
}

func (w wireEvent) event(seq uint64) Event {
	return Event{Type: w.Type.s, GenTime: int64(w.GenTime), WorkNo: w.WorkNo.s, Content: w.Content, Seq: seq}
}

// clip shortens a GUID for a log line.
func clip(guid string) string {
	if len(guid) > 8 {
		return guid[:8] + "…"
	}
	return guid
}
