package netlimit

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestCounter(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	c := NewCounter(2)
	for i, step := range []struct {
		op   string
		ip   netip.Addr
		want bool
	}{
		{"acquire", a, true}, {"acquire", a, true}, {"acquire", a, false}, // a is full
		{"acquire", b, true},                       // b is not a
		{"release", a, true}, {"acquire", a, true}, // a place came back
		{"acquire", a, false},
	} {
		switch step.op {
		case "acquire":
			if got := c.Acquire(step.ip); got != step.want {
				t.Fatalf("step %d: Acquire(%v) = %v, want %v", i, step.ip, got, step.want)
			}
		case "release":
			c.Release(step.ip)
		}
	}
	if c.Held(a) != 2 || c.Held(b) != 1 || c.Refused() != 2 {
		t.Fatalf("held a %d, b %d, refused %d; want 2, 1, 2", c.Held(a), c.Held(b), c.Refused())
	}
	c.Release(b)
	if len(c.by) != 1 {
		t.Fatalf("an IP that holds nothing stays in the map: %v", c.by)
	}
	unlimited := NewCounter(0)
	for range 1000 {
		if !unlimited.Acquire(a) {
			t.Fatal("max 0 refused")
		}
	}
}

func TestHostIP(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:80":          "127.0.0.1",
		"[::1]:80":              "::1",
		"[::ffff:10.0.0.1]:443": "10.0.0.1",
		"pipe":                  "invalid IP",
		"":                      "invalid IP",
	} {
		if got := HostIP(in).String(); got != want {
			t.Errorf("HostIP(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestListenerPerIP holds 3 connections from 127.0.0.1 against a limit of 3:
// the 4th is closed by the server before it reads or writes (the client reads
// EOF at once), and after one of the 3 closes a new one is accepted again.
func TestListenerPerIP(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := PerIP(inner, 3)
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	take := func() net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			return c
		case <-time.After(10 * time.Second): // a deadline, not a pause: it ends at once when accepted
			t.Fatal("no connection accepted within 10s")
			return nil
		}
	}
	var held []net.Conn
	for range 3 {
		dial()
		held = append(held, take())
	}
	lo := netip.MustParseAddr("127.0.0.1")
	if n := ln.Open(lo); n != 3 {
		t.Fatalf("%d open, want 3", n)
	}
	over := dial()
	over.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := over.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("4th connection: read %v, want it closed by the server", err)
	}
	if ln.Refused() != 1 {
		t.Fatalf("refused %d, want 1", ln.Refused())
	}
	held[0].Close()
	held[0].Close() // a second Close gives nothing back twice
	if n := ln.Open(lo); n != 2 {
		t.Fatalf("after a close: %d open, want 2", n)
	}
	dial()
	take()
	if n := ln.Open(lo); n != 3 {
		t.Fatalf("%d open, want 3", n)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}
