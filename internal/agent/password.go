package agent

import (
	"context"
	"slices"
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
// 110-018 the work number or name or their reverse, 110-019 any other rule. used
// (nil: none) reports whether a password is one of the last HistoryLen; it is
// asked last, only if every other rule passes, since it hashes.
func CheckNewPassword(id ccgw.AgentID, name, old, next string, used func(string) bool) ccgw.Retcode {
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
	if used != nil && used(next) {
		return ccgw.RetPwdRule
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
// of CheckNewPassword, and returns once the change is stored (see UsePasswords).
// A wrong old password is RetOldPasswordWrong; a store that fails, RetInternal.
// The replaced password joins the agent's history, which keeps the last HistoryLen.
func (d *Directory) ChangePassword(ctx context.Context, id ccgw.AgentID, old, next string) error {
	a, ok := d.Agent(id)
	if !ok {
		return ccgw.Fail(ccgw.RetQueryNoAgent)
	}
	return d.swap(ctx, id, func(cur *PasswordRecord) (PasswordRecord, error) {
		if !d.matches(a, cur, old) {
			return PasswordRecord{}, ccgw.Fail(ccgw.RetOldPasswordWrong)
		}
		var used func(string) bool
		if cur != nil {
			used = cur.Used
		}
		if code := CheckNewPassword(id, a.Name, old, next, used); code != ccgw.RetOK {
			return PasswordRecord{}, ccgw.Fail(code)
		}
		var hist []PasswordHash
		if cur != nil {
			hist = append(slices.Clone(cur.History), cur.Current)
		} else {
			hist = []PasswordHash{hashPassword(old)}
		}
		if len(hist) > HistoryLen {
			hist = hist[len(hist)-HistoryLen:]
		}
		return PasswordRecord{Current: hashPassword(next), History: hist}, nil
	})
}
