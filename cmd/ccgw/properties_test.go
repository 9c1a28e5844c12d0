package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/proctest"
)

// writeProps writes text to a basic.properties in a new directory and returns its path.
func writeProps(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "basic.properties")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParseProperties(t *testing.T) {
	type p = property
	tests := []struct {
		name string
		text string
		want []property
	}{
		{"spaces around =", "AUTHMODE = 2\n", []p{{"AUTHMODE", "2", 1}}},
		{"no spaces", "AUTHMODE=2", []p{{"AUTHMODE", "2", 1}}},
		{"colon", "AUTHMODE : 2\nGUIDINTERVAL:60000\n", []p{{"AUTHMODE", "2", 1}, {"GUIDINTERVAL", "60000", 2}}},
		{"first separator splits", "K = a=b:c\n", []p{{"K", "a=b:c", 1}}},
		{"comments and blank lines", "# a\n! b\n  # c\n\n \t\nAUTHMODE = 1\n", []p{{"AUTHMODE", "1", 6}}},
		{"trailing whitespace", "AUTHMODE = 1 \t \nK=v  \n", []p{{"AUTHMODE", "1", 1}, {"K", "v", 2}}},
		{"leading whitespace", "   AUTHMODE = 1", []p{{"AUTHMODE", "1", 1}}},
		{"trailing // comment", "GUIDINTERVAL = 60000  //refresh, in ms\nK = v\t// tab\n", []p{{"GUIDINTERVAL", "60000", 1}, {"K", "v", 2}}},
		{"only a comment", "K = //nothing here\n", []p{{"K", "", 1}}},
		{"URL keeps its //", "U = https://host:8443/x//y\n", []p{{"U", "https://host:8443/x//y", 1}}},
		{"URLs then a comment", "U = https://a/x; http://b/y  //two\n", []p{{"U", "https://a/x; http://b/y", 1}}},
		{"// right after =", "U=//host/x\n", []p{{"U", "//host/x", 1}}},
		{"empty value", "K =\nL=\n", []p{{"K", "", 1}, {"L", "", 2}}},
		{"BOM", "\uFEFFAUTHMODE = 1\n", []p{{"AUTHMODE", "1", 1}}},
		{"CRLF", "# x\r\nAUTHMODE = 1\r\nK = v  //c\r\n", []p{{"AUTHMODE", "1", 2}, {"K", "v", 3}}},
		{"CR", "AUTHMODE = 1\rK = v\r", []p{{"AUTHMODE", "1", 1}, {"K", "v", 2}}},
		{"continuation", "U = https://a/x;\\\n    https://b/y\nK = v\n", []p{{"U", "https://a/x;https://b/y", 1}, {"K", "v", 3}}},
		{"continuation over CRLF", "G = 60\\\r\n  000\r\nK = v\r\n", []p{{"G", "60000", 1}, {"K", "v", 3}}},
		{"continuation of a key", "GUID\\\n  INTERVAL = 1\n", []p{{"GUIDINTERVAL", "1", 1}}},
		{"three lines", "K = a\\\n b\\\n c\nL = d\n", []p{{"K", "abc", 1}, {"L", "d", 4}}},
		{"continuation at the end", "K = a\\", []p{{"K", "a", 1}}},
		{"escaped backslash does not continue", "K = a\\\\\nL = b\n", []p{{"K", `a\`, 1}, {"L", "b", 2}}},
		{"comment line does not continue", "# c \\\nK = v\n", []p{{"K", "v", 2}}},
		{"escapes", `K = a\tb\u0041\=\:\\c`, []p{{"K", "a\tbA=:\\c", 1}}},
		{"escaped separator in key", `a\=b = c`, []p{{"a=b", "c", 1}}},
		{"repeated key kept twice", "K = 1\nK = 2\n", []p{{"K", "1", 1}, {"K", "2", 2}}},
		{"empty file", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProperties(tt.text)
			if err != nil {
				t.Fatalf("parseProperties(%q): %v", tt.text, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseProperties(%q)\n got  %+v\n want %+v", tt.text, got, tt.want)
			}
		})
	}
}

// TestBasicPropertiesKeys: each key sets its flag, and flags on the command line win.
func TestBasicPropertiesKeys(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	tests := []struct {
		name     string
		text     string
		args     []string
		defaults func(c *Config) // other defaults than NewMain's, before parsing
		want     func(c *Config) // the defaults changed to what is expected
	}{
		{name: "AUTHMODE 1", text: "AUTHMODE = 1", want: func(c *Config) { c.AuthMode = "static" }},
		{name: "AUTHMODE 2", text: "AUTHMODE = 2",
			defaults: func(c *Config) { c.AuthMode = "static" }, want: func(c *Config) { c.AuthMode = "dynamic" }},
		{name: "GUIDINTERVAL and GUIDTIMEOUT", text: "GUIDINTERVAL = 30000\nGUIDTIMEOUT = 90500",
			want: func(c *Config) { c.GUIDInterval, c.GUIDTimeout = 30*time.Second, 90500*time.Millisecond }},
		{name: "TIMEOUT_FLAG OFF", text: "TIMEOUT_FLAG = OFF", want: func(c *Config) { c.TimeoutDetection = "off" }},
		{name: "TIMEOUT_FLAG false", text: "TIMEOUT_FLAG = false", want: func(c *Config) { c.TimeoutDetection = "off" }},
		{name: "TIMEOUT_FLAG On", text: "TIMEOUT_FLAG = On",
			defaults: func(c *Config) { c.TimeoutDetection = "off" }, want: func(c *Config) { c.TimeoutDetection = "on" }},
		{name: "TIMEOUT_FLAG TRUE", text: "TIMEOUT_FLAG = TRUE",
			defaults: func(c *Config) { c.TimeoutDetection = "off" }, want: func(c *Config) { c.TimeoutDetection = "on" }},
		{name: "MAXTIME", text: "MAXTIME = 30000", want: func(c *Config) { c.PollModeTimeout = 30 * time.Second }},
		{name: "EVENT_PUSH_HANDSHAKE_MAXTIME", text: "EVENT_PUSH_HANDSHAKE_MAXTIME = 45000",
			want: func(c *Config) { c.PushModeTimeout = 45 * time.Second }},
		{name: "EVENT_PUSH_FAIL_INTERVALTIME", text: "EVENT_PUSH_FAIL_INTERVALTIME = 5000",
			want: func(c *Config) { c.Push.RetryInterval = 5 * time.Second }},
		{name: "EVENT_PUSH_FAIL_TOTALTIME", text: "EVENT_PUSH_FAIL_TOTALTIME = 60001",
			want: func(c *Config) { c.Push.FailTotal = 60001 * time.Millisecond }},
		{name: "EVENT_PUST_WHILTELIST_CALLBACKURI", text: "EVENT_PUST_WHILTELIST_CALLBACKURI =  https://a.example/cb ; ;https://b.example:8443/x//y;  //two",
			want: func(c *Config) { c.Push.Trustlist = "https://a.example/cb;https://b.example:8443/x//y" }},
		{name: "EVENT_PUST_WHILTELIST_CALLBACKURI over two lines", text: "EVENT_PUST_WHILTELIST_CALLBACKURI = http://a.example/cb;\\\n  https://b.example/cb",
			want: func(c *Config) { c.Push.Trustlist = "http://a.example/cb;https://b.example/cb" }},
		{name: "trustAll TRUE", text: "eventpush.ssl.trustAll = TRUE", want: func(c *Config) { c.Push.Insecure = true }},
		{name: "trustAll false", text: "eventpush.ssl.trustAll=false",
			defaults: func(c *Config) { c.Push.Insecure = true }, want: func(c *Config) { c.Push.Insecure = false }},
		{name: "absolute cert file", text: "eventpush.ssl.cert.file = /etc/ccgw/ca.pem",
			want: func(c *Config) { c.Push.CA = "/etc/ccgw/ca.pem" }},
		{name: "relative cert file is in home", text: "eventpush.ssl.cert.file = certs/ca.pem",
			want: func(c *Config) { c.Push.CA = filepath.Join(home, "certs", "ca.pem") }},
		{name: "empty cert file", text: "eventpush.ssl.cert.file =",
			defaults: func(c *Config) { c.Push.CA = "x.pem" }, want: func(c *Config) { c.Push.CA = "" }},
		{name: "not applicable keys", text: "eventpush.ssl.cert.type = PKCS12\neventpush.ssl.cert.password = s3cret\nLOGIN_PWD_DECRYPT_ENABLE = true"},
		{name: "unknown key", text: "SOMETHING_ELSE = 1\nAUTHMODE = 1", want: func(c *Config) { c.AuthMode = "static" }},
		{name: "repeated key: the last counts", text: "AUTHMODE = 2\nAUTHMODE = 1", want: func(c *Config) { c.AuthMode = "static" }},

		{name: "poll wait ON with defaults", text: "AGENT_POLL_WAIT_FLAG = ON",
			defaults: func(c *Config) { c.PollWait = 3 * time.Second }, want: func(c *Config) { c.PollWait = 10 * time.Second }},
		{name: "poll wait OFF", text: "AGENT_POLL_WAIT_FLAG = OFF\nAGENT_POLL_WAIT_TIMES = 50\nAGENT_POLL_WAIT_INTERVAL = 200",
			want: func(c *Config) { c.PollWait = 0 }},
		{name: "poll wait only TIMES", text: "AGENT_POLL_WAIT_TIMES = 50", want: func(c *Config) { c.PollWait = 5 * time.Second }},
		{name: "poll wait only INTERVAL", text: "AGENT_POLL_WAIT_INTERVAL = 20", want: func(c *Config) { c.PollWait = 2 * time.Second }},
		{name: "poll wait on, TIMES and INTERVAL", text: "AGENT_POLL_WAIT_FLAG = on\nAGENT_POLL_WAIT_TIMES = 3\nAGENT_POLL_WAIT_INTERVAL = 1500",
			want: func(c *Config) { c.PollWait = 4500 * time.Millisecond }},
		{name: "poll wait zero TIMES", text: "AGENT_POLL_WAIT_TIMES = 0", want: func(c *Config) { c.PollWait = 0 }},
		{name: "no poll wait key leaves --poll-wait", text: "AUTHMODE = 1",
			defaults: func(c *Config) { c.PollWait = 3 * time.Second }, want: func(c *Config) { c.AuthMode = "static" }},

		{name: "flag set to its default wins", text: "GUIDINTERVAL = 30000\nAUTHMODE = 1", args: []string{"--guid-interval", "60s"},
			want: func(c *Config) { c.AuthMode = "static" }},
		{name: "poll wait flag wins", text: "AGENT_POLL_WAIT_FLAG = OFF", args: []string{"--poll-wait", "1s"},
			want: func(c *Config) { c.PollWait = time.Second }},
		{name: "every flag wins", text: strings.Join([]string{"AUTHMODE = 1", "GUIDINTERVAL = 1000", "GUIDTIMEOUT = 2000",
			"TIMEOUT_FLAG = OFF", "MAXTIME = 1000", "EVENT_PUSH_HANDSHAKE_MAXTIME = 1000", "EVENT_PUSH_FAIL_INTERVALTIME = 1000",
			"EVENT_PUSH_FAIL_TOTALTIME = 1000", "EVENT_PUST_WHILTELIST_CALLBACKURI = https://file.example/x",
			"eventpush.ssl.trustAll = true", "eventpush.ssl.cert.file = /file.pem",
			"AGENT_POLL_WAIT_FLAG = ON", "AGENT_POLL_WAIT_TIMES = 1", "AGENT_POLL_WAIT_INTERVAL = 1"}, "\n"),
			args: []string{"--auth-mode", "dynamic", "--guid-interval", "7s", "--guid-timeout", "8s",
				"--timeout-detection", "on", "--poll-mode-timeout", "9s", "--push-mode-timeout", "10s", "--push-retry-interval", "11s",
				"--push-fail-total", "12s", "--callback-trustlist", "https://flag.example/x", "--push-insecure=false",
				"--push-ca", "/flag.pem", "--poll-wait", "13s"},
			want: func(c *Config) {
				c.AuthMode, c.GUIDInterval, c.GUIDTimeout, c.TimeoutDetection = "dynamic", 7*time.Second, 8*time.Second, "on"
				c.PollModeTimeout, c.PushModeTimeout, c.Push.RetryInterval, c.Push.FailTotal = 9*time.Second, 10*time.Second, 11*time.Second, 12*time.Second
				c.Push.Trustlist, c.Push.Insecure, c.Push.CA, c.PollWait = "https://flag.example/x", false, "/flag.pem", 13*time.Second
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeProps(t, tt.text+"\n")
			m := NewMain()
			want := m.Config
			if tt.defaults != nil {
				tt.defaults(&m.Config)
				tt.defaults(&want)
			}
			if tt.want != nil {
				tt.want(&want)
			}
			want.BasicProperties = path
			args := append([]string{"--basic-properties", path}, tt.args...)
			if err := m.ParseFlags(args, io.Discard); err != nil {
				t.Fatalf("ParseFlags: %v", err)
			}
			if m.Config != want {
				t.Errorf("got  %+v\nwant %+v", m.Config, want)
			}
		})
	}
}

// TestBasicPropertiesNotes: what Run is to log. Unknown and repeated keys warn
// with their line; no note holds a value.
func TestBasicPropertiesNotes(t *testing.T) {
	text := strings.Join([]string{
		"# vendor file",
		"AUTHMODE = 1",
		"SECRET_TOKEN = hunter2",
		"eventpush.ssl.cert.password = pa55word",
		"GUIDINTERVAL = 30000 \\",
		"  //a comment",
		"LOGIN_PWD_DECRYPT_ENABLE=true",
		"AUTHMODE = 1",
		"eventpush.ssl.cert.type = PKCS12",
		"OTHER: hunter3",
		"AGENT_POLL_WAIT_TIMES = 10",
	}, "\n")
	m := NewMain()
	path := writeProps(t, text)
	if err := m.ParseFlags([]string{"--basic-properties", path, "--guid-interval", "20s"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	type note struct {
		level slog.Level
		line  int
		key   string
	}
	want := []note{
		{slog.LevelWarn, 3, "SECRET_TOKEN"},
		{slog.LevelInfo, 4, "eventpush.ssl.cert.password"},
		{slog.LevelInfo, 5, "GUIDINTERVAL"}, // overridden by --guid-interval
		{slog.LevelInfo, 7, "LOGIN_PWD_DECRYPT_ENABLE"},
		{slog.LevelWarn, 8, "AUTHMODE"}, // repeated
		{slog.LevelInfo, 9, "eventpush.ssl.cert.type"},
		{slog.LevelWarn, 10, "OTHER"},
		{slog.LevelInfo, 0, ""}, // applied
	}
	var got []note
	for _, n := range m.propNotes {
		got = append(got, note{n.level, n.line, n.key})
		if s := fmt.Sprint(n.logAttrs(path)...); strings.Contains(s, "hunter") || strings.Contains(s, "pa55word") {
			t.Errorf("note %q holds a value: %s", n.msg, s)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("notes\n got  %v\n want %v", got, want)
	}
	last := m.propNotes[len(m.propNotes)-1]
	if gotFlags := fmt.Sprint(last.attrs); gotFlags != "[flags auth-mode,poll-wait]" {
		t.Errorf("applied note: %q %s", last.msg, gotFlags)
	}
}

// TestBasicPropertiesLogged: Run logs the notes at their level, with file, line
// and key, and never an unknown key's value.
func TestBasicPropertiesLogged(t *testing.T) {
	path := writeProps(t, "AUTHMODE = 1\nSECRET_TOKEN = hunter2\neventpush.ssl.cert.password = pa55word\n")
	m := NewMain()
	args := []string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--plaintext", "--data", t.TempDir(), "--basic-properties", path}
	if err := m.ParseFlags(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	logs := &proctest.Log{}
	m.Log = slog.New(slog.NewTextHandler(logs, nil))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	file := "file=" + path
	for _, want := range []string{
		`level=WARN msg="basic.properties: unknown key ignored" ` + file + " line=2 key=SECRET_TOKEN\n",
		`level=INFO msg="basic.properties: key does not apply to ccgw; ignored" ` + file + " line=3 key=eventpush.ssl.cert.password\n",
		`level=INFO msg="basic.properties applied" ` + file + " flags=auth-mode\n",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if s := logs.String(); strings.Contains(s, "hunter2") || strings.Contains(s, "pa55word") {
		t.Errorf("log holds a value:\n%s", s)
	}
}

func TestBasicPropertiesErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		args []string
		want string // in the error, with FILE for the file's path
		not  string // must not be in the error; "" for nothing
	}{
		{"AUTHMODE 3", "# c\nAUTHMODE = 3", nil, `FILE:2: AUTHMODE: "3": want 1 (static) or 2 (dynamic)`, ""},
		{"AUTHMODE word", "AUTHMODE = dynamic", nil, "FILE:1: AUTHMODE:", ""},
		{"ms with a unit", "GUIDINTERVAL = 60s", nil, "FILE:1: GUIDINTERVAL: \"60s\": want a whole number", ""},
		{"ms fraction", "GUIDTIMEOUT = 1.5", nil, "FILE:1: GUIDTIMEOUT:", ""},
		{"ms zero", "MAXTIME = 0", nil, "FILE:1: MAXTIME: \"0\": want a positive", ""},
		{"ms negative", "EVENT_PUSH_HANDSHAKE_MAXTIME = -5", nil, "FILE:1: EVENT_PUSH_HANDSHAKE_MAXTIME:", ""},
		{"ms empty", "EVENT_PUSH_FAIL_INTERVALTIME =", nil, "FILE:1: EVENT_PUSH_FAIL_INTERVALTIME:", ""},
		{"ms too long", "EVENT_PUSH_FAIL_TOTALTIME = 9223372036854775", nil, "FILE:1: EVENT_PUSH_FAIL_TOTALTIME: \"9223372036854775\": too long", ""},
		{"TIMEOUT_FLAG yes", "TIMEOUT_FLAG = yes", nil, `FILE:1: TIMEOUT_FLAG: "yes": want ON, OFF, true or false`, ""},
		{"TIMEOUT_FLAG 1", "TIMEOUT_FLAG = 1", nil, "FILE:1: TIMEOUT_FLAG:", ""},
		{"trustAll maybe", "eventpush.ssl.trustAll = maybe", nil, "FILE:1: eventpush.ssl.trustAll:", ""},
		{"trustlist not a URL", "EVENT_PUST_WHILTELIST_CALLBACKURI = https://a/x;crm.example.com/x", nil,
			`FILE:1: EVENT_PUST_WHILTELIST_CALLBACKURI: "crm.example.com/x": want http or https URLs`, ""},
		{"trustlist ftp", "EVENT_PUST_WHILTELIST_CALLBACKURI = ftp://a/x", nil, "FILE:1: EVENT_PUST_WHILTELIST_CALLBACKURI:", ""},
		{"poll wait flag 2", "AGENT_POLL_WAIT_FLAG = 2", nil, "FILE:1: AGENT_POLL_WAIT_FLAG:", ""},
		{"poll wait times negative", "AGENT_POLL_WAIT_TIMES = -1", nil, "FILE:1: AGENT_POLL_WAIT_TIMES:", ""},
		{"poll wait interval word", "AGENT_POLL_WAIT_INTERVAL = fast", nil, "FILE:1: AGENT_POLL_WAIT_INTERVAL:", ""},
		{"poll wait too long", "AGENT_POLL_WAIT_TIMES = 100000000\nAGENT_POLL_WAIT_INTERVAL = 100000000", nil,
			"FILE:2: AGENT_POLL_WAIT_INTERVAL: AGENT_POLL_WAIT_TIMES × AGENT_POLL_WAIT_INTERVAL", ""},
		{"bad value of an overridden key", "AUTHMODE = 9", []string{"--auth-mode", "static"}, "FILE:1: AUTHMODE:", ""},
		{"known key, no separator", "\n\nGUIDINTERVAL 60000", nil, "FILE:3: GUIDINTERVAL: want KEY = value", ""},
		{"unknown key, no separator", "AUTHMODE = 1\nhunter2", nil, "FILE:2: want KEY = value", "hunter2"},
		{"words, no separator", "secret words here", nil, "FILE:1: want KEY = value", "secret"},
		{"no key", "AUTHMODE = 1\n = 5", nil, "FILE:2: no key before =", ""},
		{"space in a key", "AUTH MODE = 1", nil, "FILE:1: whitespace in a key", "AUTH"},
		{"bad unicode escape", "TIMEOUT_FLAG = \\u00GF", nil, `FILE:1: TIMEOUT_FLAG: bad \u escape`, ""},
		{"short unicode escape", "TIMEOUT_FLAG = O\\u4", nil, `FILE:1: TIMEOUT_FLAG: bad \u escape`, ""},
		{"line after a continuation", "K = a\\\n  b\nAUTHMODE = 0", nil, "FILE:3: AUTHMODE:", ""},
		{"values valid alone, not together", "GUIDINTERVAL = 120000\nGUIDTIMEOUT = 60000", nil,
			"--guid-interval must be positive and less than --guid-timeout (FILE sets --guid-interval, --guid-timeout)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeProps(t, tt.text+"\n")
			err := NewMain().ParseFlags(append([]string{"--basic-properties", path}, tt.args...), io.Discard)
			want := strings.ReplaceAll(tt.want, "FILE", path)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("ParseFlags: %v\nwant an error with %q", err, want)
			}
			if tt.not != "" && strings.Contains(err.Error(), tt.not) {
				t.Errorf("error %q shows %q", err, tt.not)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "basic.properties")
		err := NewMain().ParseFlags([]string{"--basic-properties", path}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--basic-properties") || !strings.Contains(err.Error(), path) {
			t.Fatalf("ParseFlags: %v, want an error naming --basic-properties and %s", err, path)
		}
	})
}

// TestBasicPropertiesVendorFile parses a file written as the vendor's, with its defaults.
func TestBasicPropertiesVendorFile(t *testing.T) {
	const path = "testdata/basic.properties"
	m := NewMain()
	if err := m.ParseFlags([]string{"--basic-properties", path}, io.Discard); err != nil {
		t.Fatal(err)
	}
	want := NewMain().Config
	want.BasicProperties = path
	want.AuthMode = "dynamic"
	want.GUIDInterval, want.GUIDTimeout = time.Minute, 2*time.Minute
	want.TimeoutDetection = "on"
	want.PollModeTimeout, want.PushModeTimeout = 2*time.Minute, 2*time.Minute
	want.Push.RetryInterval, want.Push.FailTotal = 10*time.Second, 2*time.Minute
	want.Push.Trustlist = "https://crm.example.com:8443/cti/events;https://crm-backup.example.com/cti/events"
	want.Push.Insecure = false
	want.PollWait = 10 * time.Second
	if m.Config != want {
		t.Errorf("got  %+v\nwant %+v", m.Config, want)
	}
	// Most defaults are ccgw's too: what was set shows that every key was read.
	var notes []string
	for _, n := range m.propNotes {
		notes = append(notes, fmt.Sprint(n.level, " ", n.msg, " ", n.attrs))
	}
	wantNotes := []string{"INFO basic.properties applied [flags auth-mode,guid-interval,guid-timeout,timeout-detection," +
		"poll-mode-timeout,push-mode-timeout,push-retry-interval,push-fail-total,callback-trustlist,push-insecure,poll-wait]"}
	if !reflect.DeepEqual(notes, wantNotes) {
		t.Errorf("notes\n got  %q\n want %q", notes, wantNotes)
	}
}
