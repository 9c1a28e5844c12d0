package redis

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// TestCentreRelay: with no node serving, AskCentre says so; once node A claims
// and serves, B's requests, concurrent ones too, each get A's reply to them;
// a second claim fails while A's lasts; when A stops, its claim goes with it.
func TestCentreRelay(t *testing.T) {
	p := newPair(t)
	if _, served, err := p.b.AskCentre([]byte("x")); served || err != nil {
		t.Fatalf("AskCentre with nobody serving: served %v, %v", served, err)
	}
	wantOK(t, "A claims", p.a.ClaimCentre(context.Background()))
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	if err := p.b.ClaimCentre(short); err == nil {
		t.Fatal("B claimed the call centre while A's claim lasts")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.a.ServeCentre(ctx, func(req []byte) []byte { return append(req, '!') })
	}()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			req := fmt.Sprintf("req %d", i)
			rep, served, err := p.b.AskCentre([]byte(req))
			if !served || err != nil || string(rep) != req+"!" {
				t.Errorf("AskCentre(%q): %q, served %v, %v", req, rep, served, err)
			}
		})
	}
	wg.Wait()
	cancel()
	<-done
	if _, served, err := p.b.AskCentre([]byte("x")); served || err != nil {
		t.Fatalf("AskCentre after A stopped serving: served %v, %v", served, err)
	}
	wantOK(t, "B claims after A stopped", p.b.ClaimCentre(context.Background()))
}

// TestCentreNoReply: a request the serving node does not take in time fails
// with RetInternal, and never runs later: the serving node, back, skips it.
func TestCentreNoReply(t *testing.T) {
	p := newPair(t)
	wantOK(t, "A claims", p.a.ClaimCentre(context.Background()))
	p.b.centre.wait = 200 * time.Millisecond
	_, served, err := p.b.AskCentre([]byte("late"))
	if !served || ccgw.CodeOf(err) != ccgw.RetInternal {
		t.Fatalf("AskCentre with the serving node stalled: served %v, %v; want 100-007", served, err)
	}
	var mu sync.Mutex
	var ran []string
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.a.ServeCentre(ctx, func(req []byte) []byte {
			mu.Lock()
			ran = append(ran, string(req))
			mu.Unlock()
			return req
		})
	}()
	defer func() { cancel(); <-done }()
	p.b.centre.wait = 0
	if rep, _, err := p.b.AskCentre([]byte("next")); err != nil || string(rep) != "next" {
		t.Fatalf("AskCentre: %q, %v", rep, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(ran, []string{"next"}) {
		t.Fatalf("the serving node ran %q, want only the request still awaited", ran)
	}
}
