package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw/client"
)

// BenchmarkBeat measures what the tool adds to a heartbeat's round trip. One
// op is one handShake, sent by
//
//   - path=raw: the tool's own request code before it used package client
//     (rawDo, kept here as the reference), the answer's retcode and Set-GUID
//     read as it read them;
//   - path=client: what the tool sends now, client.Agent.Heartbeat with the
//     runner's observer;
//   - path=both: one of each per op, in turns, each timed: reported as
//     raw-ns/beat, client-ns/beat and their ratio client/raw, which a load that
//     drifts during the run (this machine is shared) moves less than two
//     separate runs do;
//
// each recorded in a recorder whose window is open, on the tool's transport
// (http.Client and all). With answer=bare the answer comes from a BareServer
// in this process over loopback, the parallel variants from 64 goroutines, as
// the tool's workers send; with answer=canned the transport's RoundTrip hands
// back the bare server's answer from memory, so that ns/op is the client side
// alone: what the tool spends per request besides the network and the server.
func BenchmarkBeat(b *testing.B) {
	bare, err := StartBare(BareConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer bare.Close()
	const agents = 64
	raw := func(r *runner) func(*simAgent) {
		base := r.cfg.URL + Prefix
		return func(a *simAgent) {
			res := rawDo(context.Background(), r.hc, http.MethodPost, base+"onlineagent/"+a.WorkNo()+"/handshake", a.GUID(), nil)
			r.rec.record(client.Observation{Op: opHandShake, WorkNo: a.WorkNo(), Start: res.sent, Took: res.took,
				Code: client.Retcode(res.retcode), Err: res.err})
			if res.guid != "" && res.guid != a.GUID() {
				a.SetGUID(res.guid)
			}
		}
	}
	viaClient := func(r *runner) func(*simAgent) {
		return func(a *simAgent) { r.keptAlive(a, a.Heartbeat(context.Background())) }
	}
	for _, tc := range []struct {
		name     string
		canned   bool
		parallel bool
	}{
		{"answer=canned", true, false},
		{"answer=bare", false, false},
		{"answer=bare/parallel", false, true},
	} {
		newRunner := func(b *testing.B) *runner {
			if tc.canned {
				return benchRunner(b, "http://canned.invalid", agents, cannedAnswers{})
			}
			return benchRunner(b, bare.URL, agents, nil)
		}
		b.Run(tc.name+"/path=raw", func(b *testing.B) {
			r := newRunner(b)
			runBeats(b, tc.parallel, agents, func(i int) { raw(r)(&r.agents[i]) })
			checkBeats(b, r)
		})
		b.Run(tc.name+"/path=client", func(b *testing.B) {
			r := newRunner(b)
			runBeats(b, tc.parallel, agents, func(i int) { viaClient(r)(&r.agents[i]) })
			checkBeats(b, r)
		})
		b.Run(tc.name+"/path=both", func(b *testing.B) {
			rr, rc := newRunner(b), newRunner(b)
			rawBeat, clientBeat := raw(rr), viaClient(rc)
			var rawNs, clientNs, n atomic.Int64
			runBeats(b, tc.parallel, agents, func(i int) {
				t0 := time.Now()
				if n.Add(1)%2 == 0 { // alternate which goes first
					rawBeat(&rr.agents[i])
					t1 := time.Now()
					clientBeat(&rc.agents[i])
					rawNs.Add(int64(t1.Sub(t0)))
					clientNs.Add(int64(time.Since(t1)))
				} else {
					clientBeat(&rc.agents[i])
					t1 := time.Now()
					rawBeat(&rr.agents[i])
					clientNs.Add(int64(t1.Sub(t0)))
					rawNs.Add(int64(time.Since(t1)))
				}
			})
			checkBeats(b, rr)
			checkBeats(b, rc)
			b.ReportMetric(float64(rawNs.Load())/float64(n.Load()), "raw-ns/beat")
			b.ReportMetric(float64(clientNs.Load())/float64(n.Load()), "client-ns/beat")
			b.ReportMetric(float64(clientNs.Load())/float64(rawNs.Load()), "client/raw")
		})
	}
}

// cannedAnswers is an http.RoundTripper that answers from memory as a
// BareServer does: a sign-in with a GUID, anything else with success.
type cannedAnswers struct{}

func (cannedAnswers) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	h := http.Header{"Content-Type": {"application/json; charset=UTF-8"}}
	body := baselineOK
	if req.Method == http.MethodPut {
		h.Set("Set-GUID", "JSESSIONID=canned") // canonical, as read off the wire
		body = `{"message":"","retcode":"0","result":{"vdnid":1,"workno":"101"}}`
	}
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
}

// benchRunner returns a runner on url with n agents signed in and its window
// open; a non-nil rt replaces its HTTP transport.
func benchRunner(b *testing.B, url string, n int, rt http.RoundTripper) *runner {
	b.Helper()
	cfg := Config{URL: url, Agents: n, Conns: n}
	if err := cfg.setDefaults(); err != nil {
		b.Fatal(err)
	}
	r, err := newRunner(cfg, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.close)
	if rt != nil {
		// Without the Timeout: a RoundTripper other than *http.Transport would
		// have net/http start a goroutine per request to enforce it.
		r.hc.Transport, r.hc.Timeout = rt, 0
	}
	for i := range r.agents {
		r.signInOne(context.Background(), &r.agents[i])
		if r.agents[i].state.Load() != stateAlive {
			b.Fatalf("agent %s did not sign in: %s", r.agents[i].WorkNo(), r.rec.describeFailure())
		}
	}
	r.rec.startWindow(time.Now(), time.Hour)
	return r
}

// runBeats times b.N calls of beat, with agent indexes below agents: one
// after another, or from as many goroutines as agents, each with its own. It
// also reports cpu-ns/op, the process's CPU time (user and system, so garbage
// collection and, for answer=bare, the server's too) per op: on a machine
// shared with other work that moves far less than ns/op, which is wall time.
func runBeats(b *testing.B, parallel bool, agents int, beat func(i int)) {
	b.ReportAllocs()
	cpu0, cpuOK := processCPU()
	b.ResetTimer()
	defer func() {
		if cpu1, ok := processCPU(); ok && cpuOK && b.N > 0 {
			b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
		}
	}()
	if parallel {
		b.SetParallelism((agents + 1) / 2) // × GOMAXPROCS 2
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1)-1) % agents
			for pb.Next() {
				beat(i)
			}
		})
	} else {
		for i := 0; b.Loop(); i++ {
			beat(i % agents)
		}
	}
	b.StopTimer()
}

// checkBeats fails b unless every heartbeat r recorded was answered "0".
func checkBeats(b *testing.B, r *runner) {
	b.Helper()
	rep := r.rec.report(time.Second)
	if rep.Errors > 0 || rep.Retcodes[opHandShake]["0"] != rep.Requests || rep.FalseSignOuts > 0 {
		b.Fatalf("retcodes %v, %d errors (%s), %d false sign-outs", rep.Retcodes, rep.Errors, rep.FirstError, rep.FalseSignOuts)
	}
}

// rawResult and rawDo are the tool's request code before it used package
// client, as it was: the reference of BenchmarkBeat.
type rawResult struct {
	sent    time.Time
	took    time.Duration
	retcode string // the envelope's, or "HTTP <status>" when there is none
	guid    string // from a Set-GUID header, without "JSESSIONID="
	err     error  // transport error
}

func rawDo(ctx context.Context, hc *http.Client, method, url, guid string, body []byte) rawResult {
	var rb io.Reader
	if body != nil {
		rb = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rb)
	if err != nil {
		return rawResult{err: err}
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	if guid != "" {
		req.Header.Set("Guid", guid)
	}
	res := rawResult{sent: time.Now()}
	resp, err := hc.Do(req)
	if err != nil {
		res.err = err
		return res
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	res.took = time.Since(res.sent)
	if err != nil {
		res.err = err
		return res
	}
	var env struct {
		Retcode string `json:"retcode"`
	}
	if json.Unmarshal(b, &env) != nil || env.Retcode == "" {
		env.Retcode = "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	res.retcode = env.Retcode
	if g, ok := strings.CutPrefix(resp.Header.Get("Set-GUID"), "JSESSIONID="); ok {
		res.guid = g
	}
	return res
}
