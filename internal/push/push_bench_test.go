package push

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/event"
	"github.com/ccgw/ccgw/internal/push/pushtest"
)

// Push throughput: 10k push-mode agents (a pSource, real Queues) and one local
// receiver answering 200 {"retcode":"0"}, over loopback HTTP with the Pusher's
// default client and up to 256 workers (the receiver's adaptive limit decides
// how many push at once). One op is one round: every agent gets events=N new
// events, and the round ends when all of them were delivered. limit and
// in-flight are the receiver's limit and pushes in flight, sampled every
// millisecond and averaged.
//
//	go test -run '^$' -bench PushThroughput -benchtime 20x ./internal/event/
//
// baseline is bare net/http: 256 goroutines POSTing the same number of bodies
// of the same size with a client like the Pusher's, so the ratio of the two
// events/s figures is the Pusher's cost from one run.

const pBenchAgents = 10000

var pBenchOK = []byte(`{"message":"success","retcode":"0"}`)

func pBenchReceiver(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.Write(pBenchOK)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func BenchmarkPushThroughput(b *testing.B) {
	for _, per := range []int{1, 10} {
		b.Run(fmt.Sprintf("agents=%d/events=%d", pBenchAgents, per), func(b *testing.B) { pBenchPush(b, per) })
	}
	for _, per := range []int{1, 10} {
		b.Run(fmt.Sprintf("baseline=net/http/agents=%d/events=%d", pBenchAgents, per), func(b *testing.B) { pBenchBaseline(b, per) })
	}
}

func pBenchPush(b *testing.B, per int) {
	srv := pBenchReceiver(b)
	src := pNewSource()
	queues := make([]*event.Queue, pBenchAgents)
	for i := range queues {
		queues[i] = src.agent(ccgw.AgentID(100000+i), srv.URL+pushtest.Path, "token")
	}
	p := New(Config{Source: src, Policy: &CallbackPolicy{AllowPrivate: true}})
	p.Start()
	defer p.Close()
	now := time.Now()
	content := ccgw.Content(map[string]string{"reason": "0"})

	b.ReportAllocs()
	b.ResetTimer()
	lim := pSampleLimits(p)
	var want uint64
	for i := 0; i < b.N; i++ {
		for j, q := range queues {
			for k := 0; k < per; k++ {
				q.Add(ccgw.EvSetNotReadySuccess, content, now)
			}
			p.Notify(ccgw.AgentID(100000 + j))
		}
		want += uint64(pBenchAgents * per)
		for p.Stats().Delivered < want {
			time.Sleep(100 * time.Microsecond)
		}
	}
	b.StopTimer()
	limit, inFlight := lim()
	st := p.Stats()
	if st.Failures != 0 || st.Delivered != want {
		b.Fatalf("Stats %+v, want %d delivered and no failure", st, want)
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(st.Delivered)/secs, "events/s")
	b.ReportMetric(float64(st.Pushes)/secs, "pushes/s")
	b.ReportMetric(limit, "limit")
	b.ReportMetric(inFlight, "in-flight")
}

// pSampleLimits samples p's receivers every millisecond until the returned
// function is called, which returns the mean limit and pushes in flight over
// the samples (summed over receivers).
func pSampleLimits(p *Pusher) func() (limit, inFlight float64) {
	quit := make(chan struct{})
	done := make(chan struct{})
	var n, lsum, fsum int
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			n++
			for _, r := range p.Receivers() {
				lsum += r.Limit
				fsum += r.InFlight
			}
		}
	}()
	return func() (float64, float64) {
		close(quit)
		<-done
		if n == 0 {
			return 0, 0
		}
		return float64(lsum) / float64(n), float64(fsum) / float64(n)
	}
}

func pBenchBaseline(b *testing.B, per int) {
	srv := pBenchReceiver(b)
	client := New(Config{Source: pNewSource(), Policy: &CallbackPolicy{AllowPrivate: true}}).cfg.Client // the Pusher's default client
	q := event.NewQueue("100000", per, nil)
	for k := 0; k < per; k++ {
		q.Add(ccgw.EvSetNotReadySuccess, ccgw.Content(map[string]string{"reason": "0"}), time.Now())
	}
	body, err := json.Marshal(pushBody{WorkNo: "100000", EventList: q.Peek(0)})
	if err != nil {
		b.Fatal(err)
	}
	const workers = 256
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		jobs := make(chan struct{}, pBenchAgents)
		for j := 0; j < pBenchAgents; j++ {
			jobs <- struct{}{}
		}
		close(jobs)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range jobs {
					req, _ := http.NewRequest(http.MethodPost, srv.URL+pushtest.Path, bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json; charset=UTF-8")
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*pBenchAgents*per)/secs, "events/s")
	b.ReportMetric(float64(b.N*pBenchAgents)/secs, "pushes/s")
}
