package client

import "net/http"

// Backoff exports backoff for the tests of package client_test.
var Backoff = backoff

// NewPushHandler is PushHandler with its clock and its bound on work numbers.
func NewPushHandler(secret []byte, deliver func(string, []Event) error, clk Clock, max int) http.Handler {
	return newPushHandler(secret, deliver, clk, max)
}
