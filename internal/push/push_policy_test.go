package push

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/push/pushtest"
)

// Tests of what the Pusher sends where: the callback policy at dial time, no
// redirects, and the cap on what it reads of an answer. Receivers are on
// loopback; names resolve through pResolver, an in-process DNS server on a
// net.Pipe, so no test needs a DNS server or /etc/hosts.

// pResolver returns a resolver that answers every A query with ip and every
// other query with no record.
func pResolver(ip [4]byte) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		client, server := net.Pipe()
		go pServeDNS(server, ip)
		return client, nil // not a PacketConn: the resolver speaks DNS over TCP's framing
	}}
}

// pServeDNS answers the length-prefixed DNS queries read from c.
func pServeDNS(c net.Conn, ip [4]byte) {
	defer c.Close()
	for {
		var n [2]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(c, q); err != nil || len(q) < 12 {
			return
		}
		end := 12 // the question: labels, a zero byte, type and class
		for end < len(q) && q[end] != 0 {
			end += int(q[end]) + 1
		}
		end += 5
		if end > len(q) {
			return
		}
		qtype := binary.BigEndian.Uint16(q[end-4:])
		ans := uint16(0)
		if qtype == 1 {
			ans = 1
		}
		resp := append([]byte{q[0], q[1], 0x81, 0x80, 0, 1, byte(ans >> 8), byte(ans), 0, 0, 0, 0}, q[12:end]...)
		if ans == 1 {
			resp = append(resp, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ip[0], ip[1], ip[2], ip[3])
		}
		out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

// TestPushDialRefusesResolvedAddress: a callback host NAME passes the sign-in
// check (no lookup there), but when it resolves to a loopback address and the
// gateway does not listen on loopback only, the push fails at dial: the
// receiver gets nothing, the attempt counts as failed. The same name with the
// loopback mode's policy is delivered: the refusal was the policy's.
func TestPushDialRefusesResolvedAddress(t *testing.T) {
	rcv := pushtest.New(t, pushtest.Always(pushtest.OK), nil)
	port := rcv.Server().Listener.Addr().(*net.TCPAddr).Port
	url := "http://crm.test:" + strconv.Itoa(port) + pushtest.Path
	res := pResolver([4]byte{127, 0, 0, 1})

	strict := &CallbackPolicy{}
	if err := strict.Check(url); err != nil {
		t.Fatalf("Check(%q) = %v: a name is judged when dialed", url, err)
	}
	src := pNewSource()
	p, fc := pPusher(t, src, Config{Policy: strict, Resolver: res, Retry: RetryExponential, MaxAttempts: 1})
	pEmit(p, 1001, src.agent(1001, url, "tok"), 2, fc.Now())
	pushtest.WaitFor(t, "the push given up", func() bool { return len(src.drops()) == 2 })
	if n := rcv.Count(); n != 0 {
		t.Fatalf("%d pushes reached a loopback receiver through a name", n)
	}
	if st := p.Stats(); st.Failures != 1 || st.Pushes != 0 {
		t.Fatalf("Stats %+v, want 1 failure, 0 pushes", st)
	}

	src2 := pNewSource()
	p2, fc2 := pPusher(t, src2, Config{Policy: &CallbackPolicy{AllowPrivate: true}, Resolver: res})
	pEmit(p2, 1002, src2.agent(1002, url, "tok"), 2, fc2.Now())
	pushtest.WaitFor(t, "delivery through the name", func() bool { return src2.deliveredTo(1002) == 2 })
}

// TestPushRefusedURLNeverSent: a session whose callback the policy refuses
// (one restored from before the policy, say) gets nothing sent: user
// information, a metadata address. Its events are dropped as push_failed.
func TestPushRefusedURLNeverSent(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	for i, url := range []string{
		strings.Replace(srv.URL, "http://", "http://user:pw@", 1) + "/cb",
		"http://169.254.169.254/latest/meta-data/",
	} {
		src := pNewSource()
		p, fc := pPusher(t, src, Config{})
		id := ccgw.AgentID(1001 + i)
		pEmit(p, id, src.agent(id, url, "tok"), 1, fc.Now())
		pushtest.WaitFor(t, "the drop", func() bool { return len(src.drops()) == 1 })
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the receiver", n)
	}
}

// TestPushRedirectNotFollowed: a receiver answering 301, 302, 303, 307 or 308
// with another host as Location: the push is a failed attempt (not a body-less
// GET counted as delivered), and the redirect's target gets nothing: no Guid,
// no service_token, no signature.
func TestPushRedirectNotFollowed(t *testing.T) {
	var leaked atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { leaked.Add(1) }))
	t.Cleanup(target.Close)
	for _, code := range []int{301, 302, 303, 307, 308} {
		var asked atomic.Int64
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			asked.Add(1)
			http.Redirect(w, r, target.URL+"/stolen", code)
		}))
		t.Cleanup(rcv.Close)
		src := pNewSource()
		p, fc := pPusher(t, src, Config{Retry: RetryExponential, MaxAttempts: 1, Secret: []byte("s3cret")})
		pEmit(p, 1001, src.agent(1001, rcv.URL+pushtest.Path, "tok"), 1, fc.Now())
		pushtest.WaitFor(t, "the push given up", func() bool { return len(src.drops()) == 1 })
		if st := p.Stats(); st.Failures != 1 || st.Pushes != 0 || st.Delivered != 0 {
			t.Errorf("HTTP %d: Stats %+v, want 1 failure and nothing delivered", code, st)
		}
		if asked.Load() != 1 {
			t.Errorf("HTTP %d: the receiver was asked %d times, want 1", code, asked.Load())
		}
	}
	if n := leaked.Load(); n != 0 {
		t.Fatalf("%d requests reached the redirect's target", n)
	}
}

// TestPushAnswerReadCapped: a receiver that accepts (200) and then sends an
// endless answer costs the Pusher maxAnswer bytes: readAtMost stops there,
// and the push completes (the receiver sees its connection closed).
func TestPushAnswerReadCapped(t *testing.T) {
	var r pCountingReader
	got, err := readAtMost(&r, nil, maxAnswer)
	if err != nil || len(got) != maxAnswer || r.n.Load() != maxAnswer {
		t.Fatalf("readAtMost of an endless reader: %d bytes, %d read, %v; want %d, %d, nil", len(got), r.n.Load(), err, maxAnswer, maxAnswer)
	}

	closed := make(chan int64, 1)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		w.WriteHeader(http.StatusOK)
		chunk := make([]byte, 32<<10)
		var sent int64
		for sent < 1<<30 {
			n, err := w.Write(chunk)
			sent += int64(n)
			if err != nil {
				break
			}
		}
		closed <- sent
	}))
	t.Cleanup(rcv.Close)
	src := pNewSource()
	p, fc := pPusher(t, src, Config{})
	pEmit(p, 1001, src.agent(1001, rcv.URL+pushtest.Path, "tok"), 1, fc.Now())
	pushtest.WaitFor(t, "the push delivered", func() bool { return src.deliveredTo(1001) == 1 })
	var sent int64
	pushtest.WaitFor(t, "the receiver's connection closed", func() bool {
		select {
		case sent = <-closed:
			return true
		default:
			return false
		}
	})
	if sent >= 1<<30 {
		t.Fatalf("the receiver wrote %d bytes unhindered", sent)
	}
	t.Logf("the receiver wrote %d bytes before its connection was closed (socket buffers)", sent)
}

// pCountingReader yields endless 'x's and counts them.
type pCountingReader struct{ n atomic.Int64 }

func (r *pCountingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	r.n.Add(int64(len(p)))
	return len(p), nil
}
