package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/client"
)

// The examples run against a ccgw started by TestMain; gatewayURL is its base
// URL, such as https://cc.example.com:8043/agentgateway/resource in production.

// An agent signs in, takes the events of its sign-in, reads its state and
// signs out.
func Example() {
	ctx := context.Background()
	c, err := client.New(gatewayURL)
	if err != nil {
		log.Fatal(err)
	}
	a := c.Agent("2001")
	res, err := a.SignIn(ctx, client.SignInParams{Password: "secret", PhoneNum: "72001"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signed in:", res.WorkNo)
	for range 2 {
		ev, err := a.Poll(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.Type, ev.Seq)
	}
	st, err := a.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("idle:", st.State == ccgw.StateIdle)
	if err := a.SignOut(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// signed in: 2001
	// AgentOther_InService 1
	// AgentState_Ready 2
	// idle: true
}

// Events hands the agent's events to a function, in order, until it returns
// an error, the agent is signed out, or the context ends.
func ExampleAgent_Events() {
	ctx := context.Background()
	c, err := client.New(gatewayURL)
	if err != nil {
		log.Fatal(err)
	}
	a := c.Agent("2002")
	if _, err := a.SignIn(ctx, client.SignInParams{Password: "secret", PhoneNum: "72002"}); err != nil {
		log.Fatal(err)
	}
	errBusy := errors.New("busy now")
	err = a.Events(ctx, func(ev client.Event) error {
		fmt.Println(ev.Type, string(ev.Content))
		switch ev.Type {
		case ccgw.EvReady:
			return a.SayBusy(ctx, 0)
		case ccgw.EvSetNotReadySuccess:
			return errBusy
		}
		return nil
	})
	fmt.Println("Events:", err)
	if err := a.SignOut(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// AgentOther_InService null
	// AgentState_Ready null
	// AgentState_SetNotReady_Success {"reason":"0"}
	// Events: busy now
}

// KeepAlive heartbeats in the background (every 30 s, the vendor's
// recommendation) until the context ends or the agent is signed out.
func ExampleAgent_KeepAlive() {
	c, err := client.New(gatewayURL)
	if err != nil {
		log.Fatal(err)
	}
	a := c.Agent("2003")
	if _, err := a.SignIn(context.Background(), client.SignInParams{Password: "secret", PhoneNum: "72003"}); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.KeepAlive(ctx, 0) }()

	// … the agent works …

	cancel()
	fmt.Println("KeepAlive:", <-done)
	if err := a.SignOut(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Output:
	// KeepAlive: context canceled
}

// Every answer with a retcode other than "0" is an *Error.
func ExampleError() {
	ctx := context.Background()
	c, err := client.New(gatewayURL)
	if err != nil {
		log.Fatal(err)
	}
	p := client.SignInParams{Password: "secret", PhoneNum: "72004"}
	if _, err := c.Agent("2004").SignIn(ctx, p); err != nil {
		log.Fatal(err)
	}
	a := c.Agent("2004")
	_, err = a.SignIn(ctx, p)
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Op, e.Code, e.Message)
	}
	p.Force = true // take the session over
	if _, err := a.SignIn(ctx, p); err != nil {
		log.Fatal(err)
	}
	if err := a.SignOut(ctx); err != nil {
		log.Fatal(err)
	}
	if err := a.Heartbeat(ctx); client.CodeOf(err) == ccgw.RetNotSignedIn {
		fmt.Println("signed out:", err)
	}
	// Output:
	// login 100-002 the agent has signed in
	// signed out: client: handShake: 100-006 the agent has not signed in
}

// A push-mode agent's events come to a callback receiver. Here it runs on
// loopback; in production it is a handler of your HTTPS server, at the URL
// the sign-in names.
func ExamplePushHandler() {
	ctx := context.Background()
	evs := make(chan client.Event, 10)
	// pushSecret is the secret the gateway signs pushes with (ccgw's
	// --push-secret-env).
	h := client.PushHandler(pushSecret, func(workNo string, list []client.Event) error {
		for _, ev := range list {
			evs <- ev
		}
		return nil
	})
	srv := httptest.NewServer(h)
	defer srv.Close()

	c, err := client.New(gatewayURL)
	if err != nil {
		log.Fatal(err)
	}
	a := c.Agent("2005")
	_, err = a.SignIn(ctx, client.SignInParams{Password: "secret", PhoneNum: "72005",
		CallBackURI: srv.URL + "/ccgw/events", ServiceToken: "desk-2005"})
	if err != nil {
		log.Fatal(err)
	}
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for range 2 {
		select {
		case ev := <-evs:
			fmt.Println(ev.WorkNo, ev.Type, ev.Seq)
		case <-deadline.C:
			log.Fatal("no push")
		}
	}
	if err := a.SignOut(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 2005 AgentOther_InService 1
	// 2005 AgentState_Ready 2
}

// The vendor's gateway serves HTTPS, often with a certificate of the
// customer's own CA: trust it through the HTTP client.
func ExampleWithHTTPClient() {
	pem, err := os.ReadFile("cc-gateway-ca.pem")
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	hc := &http.Client{
		Timeout:   client.DefaultTimeout, // longer than the gateway's poll wait
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
	}
	c, err := client.New("https://cc.example.com:8043/agentgateway/resource", client.WithHTTPClient(hc))
	if err != nil {
		log.Fatal(err)
	}
	_ = c.Agent("1001")
}

// An observer counts every request by interface and retcode, and could as
// well feed their round trips to a latency histogram.
func ExampleWithObserver() {
	ctx := context.Background()
	var (
		mu     sync.Mutex // guards counts: the observer runs in each caller's goroutine
		counts = map[string]int{}
	)
	count := func(_ context.Context, o client.Observation) {
		mu.Lock()
		defer mu.Unlock()
		if o.Err != nil {
			counts[o.Op+" no answer"]++
			return
		}
		counts[o.Op+" "+string(o.Code)]++
	}
	c, err := client.New(gatewayURL, client.WithObserver(count))
	if err != nil {
		log.Fatal(err)
	}
	a := c.Agent("2006")
	if _, err := a.SignIn(ctx, client.SignInParams{Password: "secret", PhoneNum: "72006"}); err != nil {
		log.Fatal(err)
	}
	for range 3 {
		if err := a.Heartbeat(ctx); err != nil {
			log.Fatal(err)
		}
	}
	if err := a.SignOut(ctx); err != nil {
		log.Fatal(err)
	}
	_ = a.SignOut(ctx) // already signed out: 100-008
	fmt.Println(counts)
	// Output:
	// map[handShake 0:3 login 0:1 logout 0:1 logout 100-008:1]
}
