package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file reads the vendor's agentgateway/WEB-INF/config/basic.properties
// (--basic-properties) into flags. docs/configuration.md lists the keys.

// basicKey is how a basic.properties key sets a ccgw flag.
type basicKey struct {
	flag string
	// convert turns the key's value into the flag's text, or says why it cannot.
	convert func(value string) (string, error)
}

// basicKeys are the keys ccgw applies, but for the AGENT_POLL_WAIT_* keys,
// which set --poll-wait together (pollWait).
var basicKeys = map[string]basicKey{
	"AUTHMODE":                          {"auth-mode", authMode},
	"GUIDINTERVAL":                      {"guid-interval", millis},
	"GUIDTIMEOUT":                       {"guid-timeout", millis},
	"TIMEOUT_FLAG":                      {"timeout-detection", onOffWord},
	"MAXTIME":                           {"poll-mode-timeout", millis},
	"EVENT_PUSH_HANDSHAKE_MAXTIME":      {"push-mode-timeout", millis},
	"EVENT_PUSH_FAIL_INTERVALTIME":      {"push-retry-interval", millis},
	"EVENT_PUSH_FAIL_TOTALTIME":         {"push-fail-total", millis},
	"EVENT_PUST_WHILTELIST_CALLBACKURI": {"callback-trustlist", trustlist}, // sic
	"eventpush.ssl.trustAll":            {"push-insecure", trueFalseWord},
	"eventpush.ssl.cert.file":           {"push-ca", homePath},
}

// The keys that set --poll-wait: their product, in milliseconds, unless the flag is off.
const (
	pollWaitFlag     = "AGENT_POLL_WAIT_FLAG"
	pollWaitTimes    = "AGENT_POLL_WAIT_TIMES"    // default 100
	pollWaitInterval = "AGENT_POLL_WAIT_INTERVAL" // ms, default 100
)

// notApplicable are vendor keys with no meaning for ccgw: accepted and noted at
// INFO. Their values are never logged (one is a password).
var notApplicable = map[string]bool{
	"eventpush.ssl.cert.type":     true,
	"eventpush.ssl.cert.password": true,
	"LOGIN_PWD_DECRYPT_ENABLE":    true,
}

// known reports whether ccgw knows key, applied or not.
func known(key string) bool {
	_, ok := basicKeys[key]
	return ok || notApplicable[key] || key == pollWaitFlag || key == pollWaitTimes || key == pollWaitInterval
}

// A propNote is a line for Run to log about the basic.properties file: ParseFlags
// has no logger yet. It never holds the value of a key.
type propNote struct {
	level slog.Level
	msg   string
	line  int    // 0: about the whole file
	key   string // "" with line 0
	attrs []any  // more attributes, after file, line and key
}

// logAttrs returns the note's attributes for a file.
func (n propNote) logAttrs(file string) []any {
	a := []any{"file", file}
	if n.line > 0 {
		a = append(a, "line", n.line, "key", n.key)
	}
	return append(a, n.attrs...)
}

// A propError is a bad line of a properties file. Key is "" when the line has
// no key that may be shown: the text of a malformed line may be a secret.
type propError struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *propError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Key, e.Msg)
}

// applyBasicProperties reads the vendor basic.properties file path and, for
// each key ccgw supports, sets the corresponding flag of fs with fs.Set, unless
// explicit (the flags given on the command line) holds the flag's name. A
// value is checked even when its flag is explicit. It returns the names of the
// flags it set, in file order, once each, and notes for Run to log: unknown and repeated
// keys (WARN), keys that do not apply to ccgw or lose to the command line
// (INFO), and what was set (INFO). An error is a file that cannot be read, or a
// *propError for a malformed line or a bad value of a known key.
func applyBasicProperties(fs *flag.FlagSet, path string, explicit map[string]bool) (set []string, notes []propNote, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--basic-properties: %w", err)
	}
	props, err := parseProperties(string(b))
	if err != nil {
		if pe := (*propError)(nil); errors.As(err, &pe) {
			pe.File = path
		}
		return nil, nil, err
	}
	apply := func(p property, flagName, value string) error {
		if explicit[flagName] {
			notes = append(notes, propNote{slog.LevelInfo, "basic.properties: key overridden by the command line",
				p.line, p.key, []any{"flag", "--" + flagName}})
			return nil
		}
		if err := fs.Set(flagName, value); err != nil {
			return &propError{path, p.line, p.key, err.Error()}
		}
		if !slices.Contains(set, flagName) {
			set = append(set, flagName)
		}
		return nil
	}
	firstLine := map[string]int{}
	var pw pollWait
	for _, p := range props {
		if first, ok := firstLine[p.key]; ok {
			notes = append(notes, propNote{slog.LevelWarn, "basic.properties: key repeated; the last one counts",
				p.line, p.key, []any{"first_line", first}})
		} else {
			firstLine[p.key] = p.line
		}
		k, ok := basicKeys[p.key]
		switch {
		case ok:
			v, err := k.convert(p.value)
			if err != nil {
				return nil, nil, &propError{path, p.line, p.key, err.Error()}
			}
			if err := apply(p, k.flag, v); err != nil {
				return nil, nil, err
			}
		case p.key == pollWaitFlag || p.key == pollWaitTimes || p.key == pollWaitInterval:
			if err := pw.add(p); err != nil {
				return nil, nil, &propError{path, p.line, p.key, err.Error()}
			}
		case notApplicable[p.key]:
			notes = append(notes, propNote{slog.LevelInfo, "basic.properties: key does not apply to ccgw; ignored", p.line, p.key, nil})
		default:
			notes = append(notes, propNote{slog.LevelWarn, "basic.properties: unknown key ignored", p.line, p.key, nil})
		}
	}
	if pw.last.key != "" {
		d, err := pw.wait()
		if err != nil {
			return nil, nil, &propError{path, pw.last.line, pw.last.key, err.Error()}
		}
		if err := apply(pw.last, "poll-wait", d.String()); err != nil {
			return nil, nil, err
		}
	}
	notes = append(notes, propNote{level: slog.LevelInfo, msg: "basic.properties applied",
		attrs: []any{"flags", strings.Join(set, ",")}})
	return set, notes, nil
}

// pollWait gathers the AGENT_POLL_WAIT_* keys.
type pollWait struct {
	off                   bool
	times, interval       int64    // count and ms, if given
	hasTimes, hasInterval bool     // whether given; else 100 each
	last                  property // the last of the keys seen; zero if none
}

// add takes one AGENT_POLL_WAIT_* property.
func (w *pollWait) add(p property) error {
	w.last = p
	var err error
	switch p.key {
	case pollWaitFlag:
		var on bool
		on, err = onOff(p.value)
		w.off = !on
	case pollWaitTimes:
		w.times, err = count(p.value)
		w.hasTimes = true
	case pollWaitInterval:
		w.interval, err = count(p.value)
		w.hasInterval = true
	}
	return err
}

// wait returns --poll-wait: times × interval milliseconds, or 0 when the flag is off.
func (w *pollWait) wait() (time.Duration, error) {
	if w.off {
		return 0, nil
	}
	times, interval := int64(100), int64(100)
	if w.hasTimes {
		times = w.times
	}
	if w.hasInterval {
		interval = w.interval
	}
	if interval > 0 && times > maxMillis/interval {
		return 0, fmt.Errorf("%s × %s = %d × %d ms is too long", pollWaitTimes, pollWaitInterval, times, interval)
	}
	return time.Duration(times*interval) * time.Millisecond, nil
}

// maxMillis is the longest time.Duration in milliseconds.
const maxMillis = math.MaxInt64 / int64(time.Millisecond)

// millis converts a positive whole number of milliseconds to a duration flag's text.
func millis(v string) (string, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil:
		return "", fmt.Errorf("%q: want a whole number of milliseconds", v)
	case n <= 0:
		return "", fmt.Errorf("%q: want a positive number of milliseconds", v)
	case n > maxMillis:
		return "", fmt.Errorf("%q: too long", v)
	}
	return (time.Duration(n) * time.Millisecond).String(), nil
}

// count parses a whole number, 0 or more, at most maxMillis.
func count(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > maxMillis {
		return 0, fmt.Errorf("%q: want a whole number, 0 or more", v)
	}
	return n, nil
}

// authMode converts AUTHMODE's 1 or 2 to --auth-mode.
func authMode(v string) (string, error) {
	switch v {
	case "1":
		return "static", nil
	case "2":
		return "dynamic", nil
	}
	return "", fmt.Errorf("%q: want 1 (static) or 2 (dynamic)", v)
}

// onOff parses ON, OFF, true or false in any case.
func onOff(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true":
		return true, nil
	case "off", "false":
		return false, nil
	}
	return false, fmt.Errorf("%q: want ON, OFF, true or false", v)
}

// onOffWord converts a switch to "on" or "off".
func onOffWord(v string) (string, error) {
	on, err := onOff(v)
	if on {
		return "on", err
	}
	return "off", err
}

// trueFalseWord converts a switch to "true" or "false".
func trueFalseWord(v string) (string, error) {
	on, err := onOff(v)
	return strconv.FormatBool(on), err
}

// trustlist trims the ";"-separated callback URLs of v and drops empty ones.
// Each must be an http or https URL with a host.
func trustlist(v string) (string, error) {
	var urls []string
	for _, u := range strings.Split(v, ";") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return "", fmt.Errorf("%q: want http or https URLs separated by ';'", u)
		}
		urls = append(urls, u)
	}
	return strings.Join(urls, ";"), nil
}

// homePath resolves a path relative to the running user's home directory, as
// the vendor does for eventpush.ssl.cert.file. An absolute path, or "", is
// returned as is.
func homePath(v string) (string, error) {
	if v == "" || filepath.IsAbs(v) {
		return v, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("%q is relative to the home directory: %w", v, err)
	}
	return filepath.Join(home, v), nil
}

// A property is one key and value of a properties file, and the line it starts on.
type property struct {
	key, value string
	line       int
}

// propSpace is the whitespace of a properties file.
const propSpace = " \t\f"

// parseProperties reads the text of a Java properties file as the vendor writes
// it, and returns its properties in file order. It accepts "KEY = value" and
// "KEY: value" lines, "#" and "!" comment lines, blank lines, a UTF-8 BOM, LF,
// CRLF or CR line ends, a backslash that continues a line on the next (whose
// leading whitespace goes), and Java's escapes (\t, \n, \r, \f, \uXXXX, a
// backslash before any other character). Unlike Java it strips a trailing
// comment "//…" that follows whitespace (so "https://host/x" stays whole) and
// the value's trailing whitespace, and it wants "=" or ":" after a key with no
// whitespace in it. An error is a *propError without File.
func parseProperties(text string) ([]property, error) {
	text = strings.TrimPrefix(text, "\uFEFF")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	lines := strings.Split(strings.ReplaceAll(text, "\r", "\n"), "\n")
	var props []property
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := strings.Trim(lines[i], propSpace)
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for continued(line) {
			line = line[:len(line)-1]
			if i+1 == len(lines) {
				break
			}
			i++
			line += strings.Trim(lines[i], propSpace)
		}
		p, err := parseLine(line)
		if err != nil {
			err.Line = start
			return nil, err
		}
		p.line = start
		props = append(props, p)
	}
	return props, nil
}

// continued reports whether line ends in an odd number of backslashes.
func continued(line string) bool {
	n := len(line) - len(strings.TrimRight(line, `\`))
	return n%2 == 1
}

// parseLine splits a logical line, neither blank nor a comment, into key and value.
func parseLine(line string) (property, *propError) {
	sep := -1
scan:
	for j := 0; j < len(line); j++ {
		switch line[j] {
		case '\\':
			j++ // the escaped character
		case '=', ':':
			sep = j
			break scan
		}
	}
	if sep < 0 {
		e := &propError{Msg: `want KEY = value`}
		if k := strings.Fields(line)[0]; known(k) {
			e.Key = k
		}
		return property{}, e
	}
	rawKey := strings.TrimRight(line[:sep], propSpace)
	if rawKey == "" {
		return property{}, &propError{Msg: "no key before " + line[sep:sep+1]}
	}
	if strings.ContainsAny(rawKey, propSpace) {
		return property{}, &propError{Msg: "whitespace in a key (want KEY = value)"}
	}
	key, err := unescape(rawKey)
	if err != nil {
		return property{}, &propError{Msg: err.Error()}
	}
	value, err := unescape(strings.Trim(stripComment(line[sep+1:]), propSpace))
	if err != nil {
		return property{}, &propError{Key: key, Msg: err.Error()}
	}
	return property{key: key, value: value}, nil
}

// stripComment cuts v at the first "//" that follows a space or a tab.
func stripComment(v string) string {
	for j := 1; j+1 < len(v); j++ {
		if v[j] == '/' && v[j+1] == '/' && (v[j-1] == ' ' || v[j-1] == '\t') {
			return v[:j]
		}
	}
	return v
}

// unescape resolves Java's escapes in s; a lone backslash at its end goes.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i == len(s) {
			break
		}
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", errors.New(`bad \u escape: want four hex digits`)
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", errors.New(`bad \u escape: want four hex digits`)
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}
