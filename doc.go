// Package ccgw holds the domain of an open agent gateway that speaks the HTTP API of
// Huawei's CC-Gateway ("agentgateway"): agent IDs and states, sessions, events, the
// retcodes every failure maps to, and the interfaces (SessionStore, Clock) that the
// internal packages implement. It imports only the standard library.
package ccgw
