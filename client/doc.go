// Package client is a Go client of the agent HTTP API of Huawei's CC-Gateway
// ("agentgateway"), for ccgw and for the vendor's gateway alike: sign-in and
// sign-out, heartbeat, event polling, agent states, voice calls, and a receiver
// for pushed events.
//
// A Client talks to one gateway; an Agent is one agent's session on it:
//
//	c, err := client.New("https://cc.example.com:8043/agentgateway/resource")
//	a := c.Agent("1001")
//	res, err := a.SignIn(ctx, client.SignInParams{Password: pw, PhoneNum: "70001"})
//	go a.KeepAlive(ctx, 0)                            // handShake every 30 s
//	err = a.Events(ctx, func(ev client.Event) error { // getAgentEvent, in order
//		fmt.Println(ev.Type)
//		return nil
//	})
//
// # GUIDs
//
// Every call after the sign-in carries the session's GUID. In the gateway's
// dynamic mode (AUTHMODE 2, ccgw's default) the GUID rotates: an answer names
// the new one in its Set-GUID header, and the old one is accepted for a while
// only. An Agent switches to the GUID in Set-GUID of any successful answer that
// carries one (heartbeat, poll, updateGuid, any other), except an answer to a
// request sent before its last switch, which must not roll a newer GUID back.
// So a heartbeat loop and a poll loop can share one Agent across any number of
// rotations.
//
// # Errors
//
// An answer with a retcode other than "0" is an *Error with the retcode, the
// message and the HTTP status (errors.As, or CodeOf). An answer that is not the
// vendor's envelope is an *AnswerError. A request that got no answer returns
// the transport's (or the context's) error, wrapped.
//
// # Loops
//
// KeepAlive and Events follow the vendor's recommended timing: a handshake
// every 30 s; a new poll at once after an event and 300 ms after an answer
// without one (the vendor: 200–500 ms). After a failure they wait a random
// time growing from 500 ms to 30 s with each failure in a row, never
// retrying at once. Both stop with the *Error on 100-006 (the agent is signed
// out); they take their time from the Client's Clock (WithClock), so that
// tests drive them on a fake clock.
//
// # Observing requests
//
// WithObserver hands a function every request the Client sends, when it is
// answered or has failed: interface name, work number, start, round trip,
// HTTP status and retcode, or the transport's error. It is the place for
// request counts and latency histograms; ccgw's load tool (`ccgw bench`)
// takes its figures from it.
//
// # Push
//
// PushHandler is the receiver for push mode (CallBackURI and ServiceToken, or
// the older PushURL): it checks ccgw's X-CCGW-Signature when given a secret,
// drops duplicates by ccgw's sequence numbers and answers the gateway as it
// expects.
//
// # Types from the root package
//
// Retcode, Event, AgentState and Timer are aliases of the root package's types
// (github.com/ccgw/ccgw): these are the wire vocabulary that ccgw itself writes
// — retcodes with their message table and constants (ccgw.RetNotSignedIn), the
// event with its type names (ccgw.EvReady), the agent state codes
// (ccgw.StateIdle). One definition means the client decodes exactly what the
// gateway encodes and cannot drift from it, and a program holding both (a load
// test, a simulator) passes events between them without conversion. The root
// package imports only the standard library, and so does this one. The client
// has its own Error, though: ccgw.Error is the gateway's (a retcode and an
// internal cause that is never sent), while the client's carries what was
// sent — the message and the HTTP status. Its Clock needs only Now and
// NewTimer; every ccgw.Clock is one. Events are decoded leniently (a work
// number or time as a number or a string), as gateways' versions differ.
//
// The package imports nothing under internal/.
package client
