package push

import (
	"testing"

	"github.com/ccgw/ccgw"
)

// TestCallbackPolicyCheck is the table of callback URLs and what a sign-in
// makes of them: refused (100-001) or accepted, with the gateway listening on
// loopback only (AllowPrivate, the laptop case, the default --addr) and
// listening elsewhere; and with a trustlist naming a private receiver.
func TestCallbackPolicyCheck(t *testing.T) {
	const (
		refused = iota // in both modes
		private        // refused unless the gateway listens on loopback only
		allowed        // in both modes
	)
	for _, tc := range []struct {
		url  string
		want int
	}{
		{"https://crm.example.com/cb", allowed},
		{"http://crm.example.com:8080/aPortal/resource/eventreceiver/event?token=abc", allowed},
		{"https://8.8.8.8/cb", allowed},
		{"https://[2001:db8::1]:8443/cb", allowed},
		{"https://crm.example.com./cb", allowed},
		{"https://1password.example/cb", allowed}, // digits, but not the last label

		// user information
		{"https://user:pw@crm.example.com/cb", refused},
		{"https://user@crm.example.com/cb", refused},
		{"https://:@crm.example.com/cb", refused},
		// shape
		{"ftp://crm.example.com/cb", refused},
		{"https:///cb", refused},
		{"not a url", refused},
		{"https://crm.example.com:99999999999/cb", refused},
		// unspecified
		{"http://0.0.0.0:6379/", refused},
		{"http://0.1.2.3/", refused},
		{"http://[::]/", refused},
		// link-local, metadata
		{"http://169.254.169.254/latest/meta-data/", refused},
		{"http://169.254.1.1/", refused},
		{"http://[fe80::1]/", refused},
		{"http://[fe80::1%25eth0]/", refused},
		{"http://[fd00:ec2::254]/", refused},
		{"http://metadata.google.internal/computeMetadata/v1/", refused},
		{"http://METADATA.google.internal./", refused},
		{"http://metadata.goog/", refused},
		{"http://[::ffff:169.254.169.254]/", refused},
		{"http://[64:ff9b::a9fe:a9fe]/", refused}, // NAT64 of 169.254.169.254
		{"http://[2002:a9fe:a9fe::1]/", refused},  // 6to4 of it
		// multicast, broadcast
		{"http://224.0.0.1/", refused},
		{"http://239.255.255.250:1900/", refused},
		{"http://255.255.255.255/", refused},
		{"http://[ff02::1]/", refused},
		// numeric hosts that are no plain address: resolvers read them as one
		{"http://127.1/", refused},
		{"http://2130706433/", refused},
		{"http://0x7f000001/", refused},
		{"http://0x7f.0.0.1/", refused},
		{"http://017700000001/", refused},
		{"http://example.0x10/", refused},
		// loopback and private
		{"http://127.0.0.1:6379/", private},
		{"http://127.0.0.1:22/", private},
		{"http://127.255.0.9/", private},
		{"http://[::1]:8080/", private},
		{"http://[::ffff:127.0.0.1]/", private},
		{"http://localhost:8080/cb", private},
		{"http://LocalHost./cb", private},
		{"http://api.localhost/cb", private},
		{"http://10.1.2.3/", private},
		{"http://172.16.0.1/", private},
		{"http://172.31.255.255/", private},
		{"http://192.168.1.10:8080/", private},
		{"http://100.64.0.1/", private},
		{"http://[fd12:3456::1]/", private},
		{"http://[64:ff9b::a00:1]/", private}, // NAT64 of 10.0.0.1
		{"http://172.32.0.1/", allowed},
		{"http://100.128.0.1/", allowed},
	} {
		for _, mode := range []struct {
			name string
			p    CallbackPolicy
			ok   bool
		}{
			{"listening on loopback only", CallbackPolicy{AllowPrivate: true}, tc.want != refused},
			{"listening elsewhere", CallbackPolicy{}, tc.want == allowed},
		} {
			err := mode.p.Check(tc.url)
			if (err == nil) != mode.ok {
				t.Errorf("%s: Check(%q) = %v, want accepted %v", mode.name, tc.url, err, mode.ok)
			}
			if err != nil && ccgw.CodeOf(err) != ccgw.RetLoginParam {
				t.Errorf("%s: Check(%q) retcode %s, want %s", mode.name, tc.url, ccgw.CodeOf(err), ccgw.RetLoginParam)
			}
		}
	}

	// A trustlist names what may be pushed to: then private receivers it names
	// are fine wherever the gateway listens; link-local and metadata never are.
	tl := CallbackPolicy{Trust: ParseTrustlist("http://10.0.0.5:8080/cb;http://169.254.169.254/*;https://crm.example.com/cb")}
	for url, ok := range map[string]bool{
		"http://10.0.0.5:8080/cb":                  true,
		"http://10.0.0.5:8080/cb?token=x":          true,
		"https://crm.example.com/cb":               true,
		"http://10.0.0.6:8080/cb":                  false, // not on the list
		"http://169.254.169.254/latest/meta-data/": false, // on the list, but metadata
		"https://user@crm.example.com/cb":          false,
	} {
		if err := tl.Check(url); (err == nil) != ok {
			t.Errorf("trustlist: Check(%q) = %v, want accepted %v", url, err, ok)
		}
	}
}

// TestCallbackPolicyControl is the table of addresses a push may dial, as the
// dialer's Control sees them (IP and port, after any name was resolved).
func TestCallbackPolicyControl(t *testing.T) {
	for _, tc := range []struct {
		addr       string
		laptop, on bool // allowed listening on loopback only, listening elsewhere
	}{
		{"93.184.216.34:443", true, true},
		{"[2001:db8::1]:443", true, true},
		{"127.0.0.1:6379", true, false},
		{"[::1]:22", true, false},
		{"10.0.0.5:80", true, false},
		{"[fd12::1]:80", true, false},
		{"[::ffff:192.168.0.1]:80", true, false},
		{"169.254.169.254:80", false, false},
		{"[fd00:ec2::254]:80", false, false},
		{"[fe80::1%eth0]:80", false, false},
		{"0.0.0.0:80", false, false},
		{"[::]:80", false, false},
		{"224.0.0.251:5353", false, false},
		{"255.255.255.255:80", false, false},
		{"[64:ff9b::7f00:1]:80", true, false},
		{"crm.example.com:80", false, false}, // never a name: the dialer has resolved it
	} {
		for _, mode := range []struct {
			p  CallbackPolicy
			ok bool
		}{{CallbackPolicy{AllowPrivate: true}, tc.laptop}, {CallbackPolicy{}, tc.on}} {
			if err := mode.p.Control("tcp", tc.addr, nil); (err == nil) != mode.ok {
				t.Errorf("AllowPrivate %v: Control(%q) = %v, want allowed %v", mode.p.AllowPrivate, tc.addr, err, mode.ok)
			}
		}
	}
}

// TestListensOnLoopbackOnly: which --addr values make the laptop case.
func TestListensOnLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8043":        true,
		"127.0.0.2:0":           true,
		"[::1]:8043":            true,
		"localhost:8043":        true,
		"[::ffff:127.0.0.1]:80": true,
		":8043":                 false,
		"0.0.0.0:8043":          false,
		"[::]:8043":             false,
		"10.0.0.5:8043":         false,
		"gateway.example:8043":  false,
		"127.0.0.1":             false, // no port: not an address
	} {
		if got := ListensOnLoopbackOnly(addr); got != want {
			t.Errorf("ListensOnLoopbackOnly(%q) = %v, want %v", addr, got, want)
		}
	}
}
