// Package netlimit caps what one client IP address may hold at once: open
// connections (a net.Listener wrapper) or any other count (Counter).
package netlimit

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Counter counts what each client IP holds, up to a maximum. The zero value is
// not usable; use NewCounter. It is safe for concurrent use.
type Counter struct {
	max     int
	mu      sync.Mutex // guards by
	by      map[netip.Addr]int
	refused atomic.Uint64
}

// NewCounter returns a Counter that lets each IP hold max at once; max <= 0
// means no limit (Acquire always succeeds and counts nothing).
func NewCounter(max int) *Counter {
	return &Counter{max: max, by: make(map[netip.Addr]int)}
}

// Acquire takes one for ip and reports whether ip held fewer than the maximum;
// if not, it takes nothing and counts a refusal. Each successful Acquire needs
// one Release.
func (c *Counter) Acquire(ip netip.Addr) bool {
	if c.max <= 0 {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by[ip] >= c.max {
		c.refused.Add(1)
		return false
	}
	c.by[ip]++
	return true
}

// Release gives back one that Acquire took for ip.
func (c *Counter) Release(ip netip.Addr) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.by[ip]; n > 1 {
		c.by[ip] = n - 1
	} else {
		delete(c.by, ip) // the map holds only IPs that hold something
	}
}

// Held returns how many ip holds.
func (c *Counter) Held(ip netip.Addr) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.by[ip]
}

// Refused returns how many Acquires failed.
func (c *Counter) Refused() uint64 { return c.refused.Load() }

// AddrIP returns the IP of a network address ("host:port" or a *net.TCPAddr),
// IPv4-mapped IPv6 addresses as IPv4; the zero Addr if it has none.
func AddrIP(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(t.IP)
		return ip.Unmap()
	}
	if a == nil {
		return netip.Addr{}
	}
	return HostIP(a.String())
}

// HostIP returns the IP of "host:port" (an http.Request's RemoteAddr), IPv4-mapped
// IPv6 addresses as IPv4; the zero Addr if it has none.
func HostIP(hostport string) netip.Addr {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Listener is a net.Listener that accepts at most max open connections from
// one IP address: a connection over that is closed as soon as it is accepted,
// before anything is read or written, and counted (Refused).
type Listener struct {
	net.Listener
	conns *Counter
}

// PerIP wraps ln; max <= 0 means no limit.
func PerIP(ln net.Listener, max int) *Listener {
	return &Listener{Listener: ln, conns: NewCounter(max)}
}

// Accept returns the next connection whose IP holds fewer than the maximum.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := AddrIP(c.RemoteAddr())
		if !l.conns.Acquire(ip) {
			c.Close()
			continue
		}
		return &conn{Conn: c, ip: ip, conns: l.conns}, nil
	}
}

// Refused returns how many connections were closed for being over the limit.
func (l *Listener) Refused() uint64 { return l.conns.Refused() }

// Open returns how many connections ip holds open.
func (l *Listener) Open(ip netip.Addr) int { return l.conns.Held(ip) }

// conn gives its IP's place back on its first Close.
type conn struct {
	net.Conn
	ip     netip.Addr
	conns  *Counter
	closed atomic.Bool
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.conns.Release(c.ip)
	}
	return err
}
