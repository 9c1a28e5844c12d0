package push

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/ccgw/ccgw"
)

// CallbackPolicy decides which callback URLs events may be pushed to: Check
// at sign-in and before every push, Control on every connection the Pusher
// dials, on the address actually connected to, so that a host name resolving
// to a refused address (at any time: DNS rebinding) is refused as well.
//
// A URL must be http or https with a host, a port (if any) 1–65535, no user
// information, and be on Trust if Trust lists anything. Its receiver's address
// must be unicast and routable:
//
//   - always refused: unspecified (0.0.0.0/8, ::), link-local (169.254.0.0/16,
//     fe80::/10), multicast, broadcast, and cloud metadata services
//     (169.254.169.254, fd00:ec2::254, and the names metadata.google.internal,
//     metadata.goog); a host that looks numeric but is no plain address
//     ("127.1", "0x7f000001", "2130706433"), which resolvers read differently;
//   - refused unless AllowPrivate is set or Trust lists anything (every URL
//     pushed to is then on it): loopback (127.0.0.0/8, ::1, the name localhost
//     and its subdomains) and private (10.0.0.0/8, 172.16.0.0/12,
//     192.168.0.0/16, 100.64.0.0/10, fc00::/7);
//   - allowed: every other address.
//
// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry, and
// NAT64 (64:ff9b::/96) and 6to4 (2002::/16) ones by it as well. The zero
// CallbackPolicy allows any URL of the right shape to a public address. Its
// methods only read it: safe for concurrent use.
type CallbackPolicy struct {
	// Trust is the callback trustlist (--callback-trustlist); empty: any URL.
	Trust Trustlist
	// AllowPrivate allows loopback and private receivers: set when the gateway
	// listens on loopback only, where a receiver on the same machine is normal.
	AllowPrivate bool
}

// Check returns nil if events may be pushed to callback URL raw, else an
// *ccgw.Error with RetLoginParam (100-001, the sign-in's answer) whose Err
// says why. It looks no name up: a name is judged by its address when dialed
// (Control).
func (p *CallbackPolicy) Check(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return refuse("callback URL does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return refuse("callback scheme is not http or https")
	}
	if u.User != nil || strings.Contains(u.Host, "@") {
		return refuse("callback URL carries user information")
	}
	host := u.Hostname()
	if host == "" {
		return refuse("callback URL has no host")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return refuse("callback port is not 1–65535")
		}
	}
	if !p.Trust.Allows(raw) {
		return refuse("callback URL is not on the trustlist")
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if i := strings.IndexByte(host, '%'); i >= 0 { // an IPv6 zone: link-local
		host = host[:i]
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return p.checkAddr(a)
	}
	switch {
	case metadataNames[host]:
		return refuse("callback host is a cloud metadata service")
	case numericHost(host):
		return refuse("callback host looks numeric but is no plain IP address")
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		if !p.privateOK() {
			return refuse("callback host is loopback and the gateway does not listen on loopback only")
		}
	}
	return nil
}

// Control is a net.Dialer Control function: it refuses a connection to
// address (the IP and port being dialed) that the policy refuses, before any
// byte is sent. The dial then fails; the push attempt counts as failed.
func (p *CallbackPolicy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("callback policy: dialing %q: not an IP address and port", address)
	}
	if err := p.checkAddr(ap.Addr()); err != nil {
		var e *ccgw.Error
		if errors.As(err, &e) && e.Err != nil {
			err = e.Err
		}
		return fmt.Errorf("callback policy: dialing %s: %w", address, err)
	}
	return nil
}

// privateOK reports whether loopback and private receivers are allowed.
func (p *CallbackPolicy) privateOK() bool { return p.AllowPrivate || !p.Trust.Empty() }

// checkAddr judges a receiver's address.
func (p *CallbackPolicy) checkAddr(a netip.Addr) error {
	a = a.Unmap().WithZone("")
	if v4, ok := embedded4(a); ok { // a translator may carry it on to that IPv4 address
		if err := p.checkAddr(v4); err != nil {
			return err
		}
	}
	switch {
	case metadataAddrs[a]:
		return refuse("callback address is a cloud metadata service")
	case a.IsUnspecified() || (a.Is4() && a.As4()[0] == 0):
		return refuse("callback address is unspecified")
	case a.IsLinkLocalUnicast():
		return refuse("callback address is link-local")
	case a.IsMulticast() || a == broadcast4:
		return refuse("callback address is multicast or broadcast")
	case a.IsLoopback() || a.IsPrivate() || cgnat.Contains(a):
		if !p.privateOK() {
			return refuse("callback address is loopback or private and the gateway does not listen on loopback only")
		}
	}
	return nil
}

// embedded4 returns the IPv4 address an IPv6 address a carries to a
// translator: NAT64's well-known prefix 64:ff9b::/96 (RFC 6052) or 6to4's
// 2002::/16 (RFC 3056).
func embedded4(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

func refuse(why string) error {
	return &ccgw.Error{Code: ccgw.RetLoginParam, Err: errors.New(why)}
}

var (
	broadcast4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})
	cgnat      = netip.MustParsePrefix("100.64.0.0/10") // shared address space (RFC 6598): carrier and cloud internals
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour  = netip.MustParsePrefix("2002::/16")
	// metadataAddrs are the cloud instance-metadata services' addresses: AWS,
	// GCP, Azure, OpenStack and others on 169.254.169.254 (link-local anyway),
	// AWS's IPv6 one in fc00::/7, refused even where private addresses are not.
	metadataAddrs = map[netip.Addr]bool{
		netip.MustParseAddr("169.254.169.254"): true,
		netip.MustParseAddr("fd00:ec2::254"):   true,
	}
	metadataNames = map[string]bool{"metadata.google.internal": true, "metadata.goog": true}
)

// numericHost reports whether host ends in a label that is a number (decimal,
// or hex with 0x), as the URL standard's IPv4 parser reads it: "127.1",
// "0x7f.1", "2130706433". No DNS name ends so; resolvers read these as
// addresses, each in its own way.
func numericHost(host string) bool {
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	if strings.HasPrefix(last, "0x") {
		last = last[2:]
		return strings.Trim(last, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// ListensOnLoopbackOnly reports whether a gateway listening on addr (HOST:PORT)
// can be reached from this machine only.
func ListensOnLoopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
