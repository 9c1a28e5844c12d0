package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/api"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/metrics"
	"github.com/ccgw/ccgw/internal/proctest"
	"github.com/ccgw/ccgw/internal/session"
)

// env returns a lookup over vars, for Main.Env.
func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// TestFlagPrecedence: command line > environment (CCGW_*) > --basic-properties
// > default, for every pair, on --guid-interval (GUIDINTERVAL in the file,
// CCGW_GUID_INTERVAL in the environment).
func TestFlagPrecedence(t *testing.T) {
	props := writeProps(t, "GUIDINTERVAL = 30000\n") // 30s
	const (
		def  = 60 * time.Second
		file = 30 * time.Second
		envv = 20 * time.Second
		cmd  = 10 * time.Second
	)
	for _, tc := range []struct {
		name             string
		useFile, useEnv  bool
		useCmd           bool
		want             time.Duration
		wantEnvApplied   bool
		wantFileOverride bool // the file's key noted as overridden
	}{
		{"default alone", false, false, false, def, false, false},
		{"file over default", true, false, false, file, false, false},
		{"environment over default", false, true, false, envv, true, false},
		{"command line over default", false, false, true, cmd, false, false},
		{"environment over file", true, true, false, envv, true, true},
		{"command line over file", true, false, true, cmd, false, true},
		{"command line over environment", false, true, true, cmd, false, false},
		{"command line over environment and file", true, true, true, cmd, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{}
			var args []string
			if tc.useFile {
				args = append(args, "--basic-properties", props)
			}
			if tc.useEnv {
				vars["CCGW_GUID_INTERVAL"] = envv.String()
			}
			if tc.useCmd {
				args = append(args, "--guid-interval", cmd.String())
			}
			m := NewMain()
			m.Env = env(vars)
			if err := m.ParseFlags(args, io.Discard); err != nil {
				t.Fatal(err)
			}
			if m.Config.GUIDInterval != tc.want {
				t.Errorf("--guid-interval %v, want %v", m.Config.GUIDInterval, tc.want)
			}
			if got := len(m.envVars) == 1 && m.envVars[0] == "CCGW_GUID_INTERVAL"; got != tc.wantEnvApplied {
				t.Errorf("environment applied %q, want CCGW_GUID_INTERVAL: %v", m.envVars, tc.wantEnvApplied)
			}
			overridden := false
			for _, n := range m.propNotes {
				if n.key == "GUIDINTERVAL" && strings.Contains(n.msg, "overridden") {
					overridden = true
				}
			}
			if overridden != tc.wantFileOverride {
				t.Errorf("file key noted overridden: %v, want %v (%+v)", overridden, tc.wantFileOverride, m.propNotes)
			}
		})
	}
}

// TestEnvFlags: every flag has its variable (bools and strings too), an empty
// value sets nothing, a bad value is an error naming the variable, and
// CCGW_VERSION does not turn the gateway into `ccgw version`.
func TestEnvFlags(t *testing.T) {
	m := NewMain()
	m.Env = env(map[string]string{
		"CCGW_HEARTBEAT_TIMEOUT": "30s", "CCGW_PLAINTEXT": "true", "CCGW_AUTH_MODE": "static",
		"CCGW_LOG_FORMAT": "json", "CCGW_DATA": "", "CCGW_VERSION": "true", "CCGW_UNRELATED": "x",
	})
	if err := m.ParseFlags(nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	c := m.Config
	if c.HeartbeatTimeout != 30*time.Second || !c.Plaintext || c.AuthMode != "static" || c.LogFormat != "json" ||
		c.Data != "./ccgw-data" || c.ShowVersion {
		t.Errorf("from the environment: %+v", c)
	}
	if got := strings.Join(m.envVars, ","); got != "CCGW_AUTH_MODE,CCGW_HEARTBEAT_TIMEOUT,CCGW_LOG_FORMAT,CCGW_PLAINTEXT" {
		t.Errorf("applied %s", got)
	}

	bad := NewMain()
	bad.Env = env(map[string]string{"CCGW_HEARTBEAT_TIMEOUT": "soon"})
	err := bad.ParseFlags(nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "$CCGW_HEARTBEAT_TIMEOUT") {
		t.Errorf("bad value: %v, want an error naming $CCGW_HEARTBEAT_TIMEOUT", err)
	}
	// Validation sees the environment's values like the command line's.
	neg := NewMain()
	neg.Env = env(map[string]string{"CCGW_HEARTBEAT_TIMEOUT": "-1s"})
	if err := neg.ParseFlags(nil, io.Discard); err == nil || !strings.Contains(err.Error(), "--heartbeat-timeout") {
		t.Errorf("negative timeout from the environment: %v", err)
	}
	if got := envName("push-max-backoff"); got != "CCGW_PUSH_MAX_BACKOFF" {
		t.Errorf("envName = %s", got)
	}
}

// TestHelp: `ccgw help`, -h and --help list the subcommands, the environment
// rule and the flags.
func TestHelp(t *testing.T) {
	var out, errs bytes.Buffer
	if code := runCommand("help", nil, &out, &errs); code != 0 || errs.Len() != 0 {
		t.Fatalf("ccgw help: exit %d, stderr %q", code, errs.String())
	}
	var dashH, dashDashHelp bytes.Buffer
	if err := NewMain().ParseFlags([]string{"-h"}, &dashH); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	if err := NewMain().ParseFlags([]string{"--help"}, &dashDashHelp); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for name, text := range map[string]string{"ccgw help": out.String(), "-h": dashH.String(), "--help": dashDashHelp.String()} {
		for _, want := range []string{"ccgw bench", "ccgw version", "ccgw help", "CCGW_HEARTBEAT_TIMEOUT", "-heartbeat-timeout",
			"-log-format", "-log-summary-interval", "-version"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s does not mention %q", name, want)
			}
		}
	}
	if code := runCommand("help", []string{"x"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("ccgw help x: exit %d, want 2", code)
	}
}

// TestBuildVersion: linker flags win; else the module version (`go install
// …@v1.2.0`) or "(devel)", and vcs.revision with -modified for a dirty tree.
func TestBuildVersion(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	for _, tc := range []struct {
		name            string
		bi              *debug.BuildInfo
		version, commit string
		want            metrics.BuildInfo
	}{
		{"go install @version", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}},
			"", "", metrics.BuildInfo{Version: "v1.2.0", GoVersion: "go1.26.8"}},
		{"checkout, clean", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("0123abcd", "false")},
			"", "", metrics.BuildInfo{Version: "(devel)", Commit: "0123abcd", GoVersion: "go1.26.8"}},
		{"checkout, modified", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("0123abcd", "true")},
			"", "", metrics.BuildInfo{Version: "(devel)", Commit: "0123abcd-modified", GoVersion: "go1.26.8"}},
		{"ldflags win", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("0123abcd", "true")},
			"v2.0.0", "feedbeef", metrics.BuildInfo{Version: "v2.0.0", Commit: "feedbeef", GoVersion: "go1.26.8"}},
		{"no build info", nil, "", "", metrics.BuildInfo{Version: "(devel)", GoVersion: runtime.Version()}},
	} {
		if got := buildVersion(tc.bi, tc.version, tc.commit); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	var out bytes.Buffer
	if code := runCommand("version", nil, &out, io.Discard); code != 0 {
		t.Fatalf("ccgw version: exit %d", code)
	}
	if s := out.String(); !strings.HasPrefix(s, "ccgw ") || !strings.Contains(s, runtime.Version()) || !strings.Contains(s, runtime.GOOS+"/"+runtime.GOARCH) {
		t.Errorf("ccgw version printed %q", s)
	}
	out.Reset()
	writeVersion(&out, metrics.BuildInfo{Version: "v1.2.0", Commit: "0123abcd-modified", GoVersion: "go1.26.8"})
	if want := "ccgw v1.2.0 (commit 0123abcd-modified, go1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"; out.String() != want {
		t.Errorf("writeVersion: %q, want %q", out.String(), want)
	}
}

// TestMainMetricsBuildInfoAndReady: /metrics on the admin listener has
// ccgw_build_info (value 1, this binary's Go version) and ccgw_ready 1.
func TestMainMetricsBuildInfoAndReady(t *testing.T) {
	m, _ := runMain(t, t.TempDir())
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://" + m.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	body := string(b)
	var build string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "ccgw_build_info{") {
			build = l
		}
	}
	if !strings.Contains(build, `goversion="`+runtime.Version()+`"`) || !strings.Contains(build, `version="`) || !strings.HasSuffix(build, "} 1") {
		t.Errorf("ccgw_build_info line %q", build)
	}
	if !strings.Contains(body, "\nccgw_ready 1\n") {
		t.Errorf("/metrics lacks ccgw_ready 1")
	}
}

// TestMainLogFormatJSON: --log-format json writes one JSON object a line, the
// listening line with its address.
func TestMainLogFormatJSON(t *testing.T) {
	m := NewMain()
	m.Env = env(nil)
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--admin-addr", "off", "--plaintext", "--data", t.TempDir(),
		"--log-format", "json"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	logs := &proctest.Log{}
	m.Stderr = logs
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", l, err)
		}
		if rec["msg"] == "listening" && rec["addr"] == m.Addr() && rec["level"] == "INFO" {
			found = true
		}
	}
	if !found {
		t.Errorf("no JSON listening line:\n%s", logs)
	}
}

// TestSummarize: a summary line counts requests by method and retcode, and the
// session counters' growth over the interval; sign-ins and sign-outs are left
// out when the store's figures were unreadable at either end.
func TestSummarize(t *testing.T) {
	rc := []api.RequestCount{
		{Method: "handShake", Code: ccgw.RetOK, N: 120},
		{Method: "handShake", Code: ccgw.RetNotSignedIn, N: 2},
		{Method: "login", Code: ccgw.RetOK, N: 3},
	}
	prev := session.Stats{Heartbeats: 1000, Polls: 10, SignIns: 50, SignOuts: map[ccgw.SignOutCause]uint64{ccgw.CauseTimeout: 4}}
	cur := session.Stats{Heartbeats: 1120, Polls: 10, SignIns: 53, SignOuts: map[ccgw.SignOutCause]uint64{ccgw.CauseTimeout: 6, ccgw.CauseLogout: 1}}
	line := func(attrs []slog.Attr) string {
		var b bytes.Buffer
		h := slog.NewTextHandler(&b, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
				return slog.Attr{}
			}
			return a
		}})
		slog.New(h).LogAttrs(context.Background(), slog.LevelInfo, "summary", attrs...)
		return strings.TrimSpace(b.String())
	}
	want := "msg=summary interval=1m0s requests=125 retcodes.handShake.0=120 retcodes.handShake.100-006=2 retcodes.login.0=3 " +
		"heartbeats=120 polls=0 signins=3 signouts.logout=1 signouts.timeout=2"
	if got := line(summarize(time.Minute, rc, prev, cur)); got != want {
		t.Errorf("summary\n got  %s\n want %s", got, want)
	}
	cur.Partial = true
	want = "msg=summary interval=1m0s requests=0 heartbeats=120 polls=0"
	if got := line(summarize(time.Minute, nil, prev, cur)); got != want {
		t.Errorf("summary with the store unreadable\n got  %s\n want %s", got, want)
	}
}

// TestMainSummaryLine: with --log-summary-interval, Main logs a summary line
// each time the interval passes on its summary clock (a fake one here), with
// the requests of that interval, and stops at Close.
func TestMainSummaryLine(t *testing.T) {
	fc := clock.NewVirtual(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	m := NewMain()
	m.Env = env(nil)
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--admin-addr", "off", "--plaintext", "--data", t.TempDir(),
		"--log-summary-interval", "1m"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	m.SummaryClock = fc
	logs := &proctest.Log{}
	m.Log = slog.New(slog.NewTextHandler(logs, nil))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	// Once its timer is armed, the summary counts from zero.
	waitFor(t, "the summary timer", func() bool { return fc.Pending() > 0 })
	base := "http://" + m.Addr() + "/agentgateway/resource/onlineagent/1001"
	resp := do(t, c, http.MethodPut, base, "", `{"password":"p","phonenum":"70001"}`)
	guid, _ := strings.CutPrefix(resp.Header.Get("Set-GUID"), "JSESSIONID=")
	for range 3 {
		do(t, c, http.MethodPost, base+"/handshake", guid, "")
	}
	do(t, c, http.MethodPost, base+"/handshake", "wrong", "")
	fc.Advance(time.Minute)
	waitFor(t, "a summary line", func() bool { return strings.Contains(logs.String(), "msg=summary") })
	l := logs.String()
	for _, want := range []string{"interval=1m0s", "requests=5", "retcodes.login.0=1", "retcodes.handShake.0=3",
		"retcodes.handShake.000-003=1", "heartbeats=3", "signins=1"} {
		if !strings.Contains(l, want) {
			t.Errorf("summary line lacks %q:\n%s", want, l)
		}
	}
	if strings.Contains(l, "msg=request") {
		t.Errorf("request lines at INFO:\n%s", l)
	}
	if err := m.Close(); err != nil { // waits for the summary goroutine
		t.Fatal(err)
	}
	if n := fc.Pending(); n != 0 {
		t.Errorf("%d summary timers left after Close", n)
	}
}

// waitFor polls cond until it holds, failing the test after 30 s: what it
// waits for is another goroutine's next step, which a loaded machine may
// delay, never a duration.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 30s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
