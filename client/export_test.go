package client

// Backoff exports backoff for the tests of package client_test.
var Backoff = backoff
