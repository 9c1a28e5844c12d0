package agent

import (
	"strings"
	"unicode"

	"github.com/ccgw/ccgw"
)

// Password rules of modifyAccountPwdEx (interfaces.md §25).
const (
	MinPasswordLen = 8
	MaxPasswordLen = 32
	MaxRepeat      = 2 // longest run of one character allowed
	HistoryLen     = 5 // a new password differs from this many earlier ones
)

// CheckNewPassword returns the retcode that refuses password next for agent id
// with name (RetOK if it is acceptable): 110-020 length, 110-017 same as old,
// 110-018 the work number or name or their reverse, 110-019 any other rule.
func CheckNewPassword(id ccgw.AgentID, name, old, next string, history []string) ccgw.Retcode {
	n := len([]rune(next))
	if n < MinPasswordLen || n > MaxPasswordLen {
		return ccgw.RetPwdLength
	}
	if next == old {
		return ccgw.RetPwdSameAsOld
	}
	work := id.String()
	for _, w := range []string{work, name} {
		if w != "" && (strings.EqualFold(next, w) || strings.EqualFold(next, reverse(w))) {
			return ccgw.RetPwdLikeName
		}
	}
	if longestRun(next) > MaxRepeat {
		return ccgw.RetPwdRule
	}
	for i := 0; i+3 <= len(work); i++ {
		if strings.Contains(next, work[i:i+3]) {
			return ccgw.RetPwdRule
		}
	}
	if classes(next) < 3 {
		return ccgw.RetPwdRule
	}
	for _, h := range history {
		if h == next {
			return ccgw.RetPwdRule
		}
	}
	return ccgw.RetOK
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

func longestRun(s string) int {
	best, run := 0, 0
	var prev rune = -1
	for _, c := range s {
		if c == prev {
			run++
		} else {
			run = 1
		}
		prev = c
		if run > best {
			best = run
		}
	}
	return best
}

// classes counts the kinds of character in s: upper, lower, digit, other.
func classes(s string) int {
	var up, lo, dg, ot bool
	for _, c := range s {
		switch {
		case unicode.IsUpper(c):
			up = true
		case unicode.IsLower(c):
			lo = true
		case unicode.IsDigit(c):
			dg = true
		default:
			ot = true
		}
	}
	n := 0
	for _, b := range []bool{up, lo, dg, ot} {
		if b {
			n++
		}
	}
	return n
}

// ChangePassword replaces agent id's password after checking old and the rules
// of CheckNewPassword. A wrong old password is RetOldPasswordWrong. The change
// lasts while the gateway runs.
func (d *Directory) ChangePassword(id ccgw.AgentID, old, next string) error {
	a, ok := d.Agent(id)
	if !ok {
		return ccgw.Fail(ccgw.RetQueryNoAgent)
	}
	if !d.CheckPassword(id, old) {
		return ccgw.Fail(ccgw.RetOldPasswordWrong)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if code := CheckNewPassword(id, a.Name, old, next, d.history[id]); code != ccgw.RetOK {
		return ccgw.Fail(code)
	}
	h := append(d.history[id], old)
	if len(h) > HistoryLen {
		h = h[len(h)-HistoryLen:]
	}
	d.history[id] = h
	d.passwords[id] = next
	return nil
}
