package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/wait"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The web console in a real headless Chromium, driven over the DevTools
// protocol (chromedp): the page lists an agent signed in through the vendor's
// API, shows its events as they are made, and its buttons act through the
// admin API. Chromium is Debian's package, which .ci/run installs.

// chromiumPath returns the Chromium to drive: $CCGW_CHROMIUM, else the first of
// chromium, chromium-browser, google-chrome on PATH; "" if there is none.
func chromiumPath() string {
	if p := os.Getenv("CCGW_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is one headless Chromium with one tab, and what its page reported:
// exceptions thrown and log entries (CSP violations among them).
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string // guarded by mu
}

// newBrowser starts Chromium at path with the flags a CI machine needs; the
// test's end stops it. Every action must be done within 5 minutes.
func newBrowser(t *testing.T, path string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-background-networking", true),
		chromedp.WindowSize(1400, 1200))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{}
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	ctx, cancelTime := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
	})
	b.ctx = ctx
	return b
}

// listen keeps the page's exceptions and its log entries of level error but
// the network's (the browser's own favicon.ico request is answered 404).
func (b *browser) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level != log.EntryLevelError || ev.Entry.Source == log.EntrySourceNetwork {
			return
		}
		msg = fmt.Sprintf("log %s: %s", ev.Entry.Source, ev.Entry.Text)
	default:
		return
	}
	b.mu.Lock()
	b.errors = append(b.errors, msg)
	b.mu.Unlock()
}

func (b *browser) reported() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// do runs chromedp actions, failing t on an error.
func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// click clicks the element sel (CSS) finds, retrying for up to 10 s while it
// is missing or replaced under the pointer (a row the page re-rendered).
func (b *browser) click(t *testing.T, what, sel string) {
	t.Helper()
	wait.For(t, 10*time.Second, 200*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
			return fmt.Errorf("%s: %v", what, err)
		}
		return nil
	})
}

// eval returns the value of a JavaScript expression in the page.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitPage polls a JavaScript condition in the page every 200 ms until it is
// true, failing t after 30 s with what and the page's status line. (The
// page's policy forbids eval, so chromedp's Poll, built on new Function,
// cannot run there; Runtime.evaluate can.)
func (b *browser) waitPage(t *testing.T, what, cond string) {
	t.Helper()
	wait.For(t, 30*time.Second, 200*time.Millisecond, func() error {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("Boolean("+cond+")"))
		if err != nil {
			return fmt.Errorf("%s: %v", what, err)
		}
		if !ok {
			status, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("status").textContent`))
			return fmt.Errorf("%s: not so; the page's status line: %q", what, status)
		}
		return nil
	})
}

// eventShown is a page condition: an event of type typ for agent id is in the
// page's event list.
func eventShown(id, typ string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#events li[data-agent="%s"] .type')].some((e) => e.textContent === %q)`, id, typ)
}

// adminResult GETs an admin path and decodes its result into out.
func adminResult(t *testing.T, p *proc, path string, out any) error {
	t.Helper()
	r := call(t, p.client, http.MethodGet, p.adminURL(path), "", "")
	if r.status != http.StatusOK || r.env.Retcode != "0" {
		return fmt.Errorf("GET %s: HTTP %d %s", path, r.status, r.body)
	}
	return json.Unmarshal(r.env.Result, out)
}

// hostile is call data a client could send: as markup it would run script.
const hostile = `<img src=x onerror="window.__ccgwXSS=1"><script>window.__ccgwXSS=2</script>`

// TestConsoleInChromium loads the console in headless Chromium and checks it
// as a person would: an agent signed in through the vendor's API is listed,
// its events arrive as they are made, the page injects a call that rings it
// (seen through the admin API), shows the call's hostile call data as text,
// hangs the call up, advances the virtual clock, starts and stops a fault and
// forces the agent out, each seen through the admin API; and the page
// reports no script error and no policy violation. Without Chromium it is
// skipped, unless CI is set: then it fails.
func TestConsoleInChromium(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) { testConsoleInChromium(t, store) })
	}
}

func testConsoleInChromium(t *testing.T, store string) {
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") == "" {
			t.Skip("no chromium on PATH (apt-get install chromium; or set CCGW_CHROMIUM): the console's browser test is skipped")
		}
		t.Fatal("CI is set and no chromium is on PATH: .ci/run installs Debian's chromium")
	}
	p := startGatewayOn(t, store, "--clock", "virtual", "--auth-mode", "static", "--heartbeat-timeout", "1h", "--poll-wait", "0s")
	b := newBrowser(t, path)
	b.do(t, "load the console", chromedp.Navigate(p.adminURL("/")))
	b.waitPage(t, "the event stream is live", `document.getElementById("stream-state").textContent === "live"`)
	b.waitPage(t, "the agents table says nobody is signed in", `document.querySelector("#agents tbody tr.empty") !== null`)
	b.waitPage(t, "the virtual clock can be advanced", `!document.getElementById("advance-form").hidden`)

	// An agent signs in through the vendor's API: the page lists it, and its
	// sign-in events arrive in the event list as they are made.
	r := call(t, p.client, http.MethodPut, p.url("onlineagent/1001"), "", `{"password":"secret","phonenum":"70001","autoanswer":false}`)
	guid := strings.TrimPrefix(r.header.Get("Set-GUID"), "JSESSIONID=")
	if r.env.Retcode != "0" || guid == "" {
		t.Fatalf("sign-in: HTTP %d %s", r.status, r.body)
	}
	b.waitPage(t, "1001 is listed idle",
		`(() => { const r = document.querySelector('#agents tbody tr[data-agent="1001"]'); return r !== null && r.children[1].textContent === "idle"; })()`)
	b.waitPage(t, "1001's sign-in event arrived", eventShown("1001", "AgentOther_InService"))
	if code := call(t, p.client, http.MethodPost, p.url("onlineagent/1001/saybusy"), guid, "").env.Retcode; code != "0" {
		t.Fatalf("sayBusy: %s", code)
	}
	b.waitPage(t, "the state change arrived live", eventShown("1001", "AgentState_SetNotReady_Success"))
	b.waitPage(t, "1001 is listed busy", `document.querySelector('#agents tbody tr[data-agent="1001"]').children[1].textContent === "busy"`)
	if code := call(t, p.client, http.MethodPost, p.url("onlineagent/1001/sayfree"), guid, "").env.Retcode; code != "0" {
		t.Fatalf("sayFree: %s", code)
	}

	// The page injects a call: it rings 1001.
	b.do(t, "fill in the call", chromedp.SetValue(chromedp.ID("inject-skill"), "1"),
		chromedp.SetValue(chromedp.ID("inject-caller"), "13912345678"), chromedp.SetValue(chromedp.ID("inject-data"), hostile))
	b.click(t, "click Inject call", "#inject-call")
	b.waitPage(t, "the page says the call was injected", `document.getElementById("status").textContent.includes("injected")`)
	var callID string
	wait.For(t, 30*time.Second, 200*time.Millisecond, func() error {
		var res struct {
			Calls []struct {
				CallID, State, WorkNo, CallData string
			} `json:"calls"`
		}
		if err := adminResult(t, p, "/ccgw/v1/calls", &res); err != nil {
			return err
		}
		if len(res.Calls) != 1 || res.Calls[0].State != "ringing" || res.Calls[0].WorkNo != "1001" || res.Calls[0].CallData != hostile {
			return fmt.Errorf("calls %+v, want one ringing at 1001 with the call data", res.Calls)
		}
		callID = res.Calls[0].CallID
		return nil
	})
	b.waitPage(t, "the ringing arrived live", eventShown("1001", "AgentEvent_Ringing"))
	b.waitPage(t, "the call is listed with its call data as text",
		fmt.Sprintf(`[...document.querySelectorAll('#calls tbody td')].some((td) => td.textContent === %q)`, hostile))
	if ran := eval[bool](t, b, `window.__ccgwXSS !== undefined || document.querySelector("#calls img, #events img, main script") !== null`); ran {
		t.Fatal("the call data became markup")
	}

	// The page hangs the call up.
	b.click(t, "click Hang up", fmt.Sprintf(`#calls button[data-call="%s"]`, callID))
	wait.For(t, 30*time.Second, 200*time.Millisecond, func() error {
		var res struct {
			Calls []json.RawMessage `json:"calls"`
		}
		if err := adminResult(t, p, "/ccgw/v1/calls", &res); err != nil {
			return err
		}
		if len(res.Calls) != 0 {
			return fmt.Errorf("%d calls live after Hang up", len(res.Calls))
		}
		return nil
	})

	// The page advances the virtual clock by 90 s.
	var before struct {
		Now int64 `json:"now"`
	}
	if err := adminResult(t, p, "/ccgw/v1/clock", &before); err != nil {
		t.Fatal(err)
	}
	b.do(t, "advance by 90 s", chromedp.SetValue(chromedp.ID("advance-seconds"), "90"))
	b.click(t, "click Advance", "#advance-clock")
	wait.For(t, 30*time.Second, 200*time.Millisecond, func() error {
		var now struct {
			Now int64 `json:"now"`
		}
		if err := adminResult(t, p, "/ccgw/v1/clock", &now); err != nil {
			return err
		}
		if now.Now != before.Now+90000 {
			return fmt.Errorf("clock at %d, want %d", now.Now, before.Now+90000)
		}
		return nil
	})

	// The page starts a fault, lists it, and stops it.
	b.do(t, "fill in a fault", chromedp.SetValue(chromedp.ID("fault-kind"), "unavailable"),
		chromedp.SetValue(chromedp.ID("fault-agents"), "1002"))
	b.click(t, "click Start fault", "#start-fault")
	faults := func(want int) func() error {
		return func() error {
			var res struct {
				Faults []struct{ ID, Kind string } `json:"faults"`
			}
			if err := adminResult(t, p, "/ccgw/v1/faults", &res); err != nil {
				return err
			}
			if len(res.Faults) != want || (want == 1 && res.Faults[0].Kind != "unavailable") {
				return fmt.Errorf("faults %+v, want %d unavailable", res.Faults, want)
			}
			return nil
		}
	}
	wait.For(t, 30*time.Second, 200*time.Millisecond, faults(1))
	b.waitPage(t, "the fault is listed", `document.querySelector("#faults button[data-fault]") !== null`)
	b.click(t, "click Stop", "#faults button[data-fault]")
	wait.For(t, 30*time.Second, 200*time.Millisecond, faults(0))

	// The page forces 1001 out: the admin API no longer lists it, and its
	// client is told (AgentOther_ShutdownService).
	b.click(t, "click Force out", `#agents button[data-agent="1001"]`)
	wait.For(t, 30*time.Second, 200*time.Millisecond, func() error {
		var res struct {
			Agents []struct{ Agent string } `json:"agents"`
		}
		if err := adminResult(t, p, "/ccgw/v1/agents", &res); err != nil {
			return err
		}
		if len(res.Agents) != 0 {
			return fmt.Errorf("agents %+v after Force out", res.Agents)
		}
		return nil
	})
	wait.For(t, 30*time.Second, 50*time.Millisecond, func() error {
		env := p.poll(t, "1001", guid)
		if env.Event == nil || env.Event.Type != "AgentOther_ShutdownService" {
			return fmt.Errorf("polled %+v, want AgentOther_ShutdownService", env.Event)
		}
		return nil
	})
	b.waitPage(t, "1001 is no longer listed", `document.querySelector('#agents tbody tr[data-agent="1001"]') === null`)
	b.waitPage(t, "the shutdown arrived live", eventShown("1001", "AgentOther_ShutdownService"))

	if errs := b.reported(); len(errs) > 0 {
		t.Fatalf("the page reported:\n%s", strings.Join(errs, "\n"))
	}
}

// TestConsoleSignInChromium: with --admin-token-env, the console in headless
// Chromium first shows its sign-in page; a wrong token is refused on the page,
// the right one signs in (a cookie the page's script cannot read), and the
// console then lists an agent and follows its events; "Sign out" returns to
// the sign-in page.
func TestConsoleSignInChromium(t *testing.T) {
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") == "" {
			t.Skip("no chromium on PATH (apt-get install chromium; or set CCGW_CHROMIUM): the console's browser test is skipped")
		}
		t.Fatal("CI is set and no chromium is on PATH: .ci/run installs Debian's chromium")
	}
	const token = "e2e-console-token-0123456789"
	t.Setenv("CCGW_E2E_CONSOLE_TOKEN", token) // inherited by the binary; not parallel
	p := startGateway(t, t.TempDir(), "--admin-token-env", "CCGW_E2E_CONSOLE_TOKEN", "--auth-mode", "static", "--heartbeat-timeout", "1h")
	b := newBrowser(t, path)
	b.do(t, "load the console", chromedp.Navigate(p.adminURL("/")))
	b.waitPage(t, "the sign-in page", `document.getElementById("login-form") !== null && document.getElementById("agents") === null`)
	b.do(t, "a wrong token", chromedp.SetValue(chromedp.ID("login-token"), "not-the-token-0123456789"))
	b.click(t, "click Sign in", "#login-submit")
	b.waitPage(t, "the page says it was refused", `document.getElementById("login-error").textContent.includes("000-003")`)
	b.do(t, "the token", chromedp.SetValue(chromedp.ID("login-token"), token))
	b.click(t, "click Sign in", "#login-submit")
	b.waitPage(t, "the console after the sign-in", `document.getElementById("stream-state") !== null && document.getElementById("stream-state").textContent === "live"`)
	if cookie := eval[string](t, b, `document.cookie`); cookie != "" {
		t.Fatalf("the page's script reads cookies %q: the sign-in cookie must be HttpOnly", cookie)
	}
	p.signIn(t, "1001", "")
	b.waitPage(t, "1001 is listed", `document.querySelector('#agents tbody tr[data-agent="1001"]') !== null`)
	b.waitPage(t, "1001's events arrived", eventShown("1001", "AgentOther_InService"))
	b.waitPage(t, "a Sign out button", `!document.getElementById("sign-out").hidden`)
	b.click(t, "click Sign out", "#sign-out")
	b.waitPage(t, "the sign-in page again", `document.getElementById("login-form") !== null`)
	if r := sendAuth(t, http.MethodGet, p.adminURL("/ccgw/v1/agents"), ""); r.status != http.StatusUnauthorized {
		t.Errorf("admin API without the token: HTTP %d", r.status)
	}
	if errs := b.reported(); len(errs) > 0 {
		// The sign-in page's refused fetch (401) is a network entry, left out; nothing else may be.
		t.Fatalf("the page reported:\n%s", strings.Join(errs, "\n"))
	}
}
