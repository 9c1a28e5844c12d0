package agent

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ccgw/ccgw"
)

// TestCheckNewPassword has one row per rule of modifyAccountPwdEx (interfaces.md
// §25, docs/decisions.md) and the retcode that refuses it, for agent 1001 named
// "Alexandra" whose current password is "Old!pass9".
func TestCheckNewPassword(t *testing.T) {
	const (
		id   ccgw.AgentID = 1001
		name              = "Alexandra"
		old               = "Old!pass9"
	)
	history := []string{"Hist!ory1", "Hist!ory2"}
	used := func(pw string) bool { return slices.Contains(history, pw) }
	tests := []struct {
		name string
		next string
		want ccgw.Retcode
	}{
		{"ok", "Gr8!Pass", ccgw.RetOK},
		{"ok 32 chars", "Aa1!" + strings.Repeat("xy", 14), ccgw.RetOK},
		{"ok 8 multibyte chars", "Ünï!cødé9", ccgw.RetOK},
		{"ok run of two", "Aa11!!bb", ccgw.RetOK},
		{"ok 2 consecutive chars of the work number", "Xy!10zzQ", ccgw.RetOK},

		{"empty", "", ccgw.RetPwdLength},
		{"7 chars", "Ab1!xyz", ccgw.RetPwdLength},
		{"33 chars", "Aa1!" + strings.Repeat("xy", 14) + "z", ccgw.RetPwdLength},

		{"same as old", old, ccgw.RetPwdSameAsOld},

		{"the name", "Alexandra", ccgw.RetPwdLikeName},
		{"the name, other case", "aLEXANDRA", ccgw.RetPwdLikeName},
		{"the name reversed", "ardnaxelA", ccgw.RetPwdLikeName},

		{"run of three", "Abbb!234", ccgw.RetPwdRule},
		{"run of three symbols", "Ab1!!!xy", ccgw.RetPwdRule},
		{"3 consecutive chars of the work number (100)", "Xy!100zz", ccgw.RetPwdRule},
		{"3 consecutive chars of the work number (001)", "Xy!001zz", ccgw.RetPwdRule},
		{"lower only", "abcdefgh", ccgw.RetPwdRule},
		{"lower and digits", "abcd5678", ccgw.RetPwdRule},
		{"upper and symbols", "ABCD!@#$", ccgw.RetPwdRule},
		{"in history", "Hist!ory1", ccgw.RetPwdRule},
		{"newest in history", "Hist!ory2", ccgw.RetPwdRule},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CheckNewPassword(id, name, old, tc.next, used); got != tc.want {
				t.Errorf("CheckNewPassword(%q) = %q, want %q", tc.next, got, tc.want)
			}
		})
	}
}

// TestCheckNewPasswordWorkNumber checks the "no 3 consecutive characters of the
// work number" rule with a six-digit work number (too short to be a whole
// password, so 110-018 cannot fire for it).
func TestCheckNewPasswordWorkNumber(t *testing.T) {
	const id ccgw.AgentID = 987654
	for _, tc := range []struct {
		next string
		want ccgw.Retcode
	}{
		{"Ab!987654", ccgw.RetPwdRule},
		{"Ab!456789", ccgw.RetOK}, // the reverse has no 3 consecutive characters of it in order
		{"Ab!x765yz", ccgw.RetPwdRule},
		{"Ab!98x76x", ccgw.RetOK},
	} {
		if got := CheckNewPassword(id, "", "Old!pass9", tc.next, nil); got != tc.want {
			t.Errorf("CheckNewPassword(%q) = %q, want %q", tc.next, got, tc.want)
		}
	}
}

// TestChangePasswordHistory changes a password six times and checks that each
// of the last five earlier passwords is refused (110-019) while the sixth back
// is accepted again, and that only the newest password signs in.
func TestChangePasswordHistory(t *testing.T) {
	d := tFileDirectory(t)
	const id ccgw.AgentID = 1001
	pw := []string{"S3cret!pw", "Pass!wd01", "Pass!wd02", "Pass!wd03", "Pass!wd04", "Pass!wd05", "Pass!wd06"}
	for i := 1; i < len(pw); i++ {
		if err := d.ChangePassword(context.Background(), id, pw[i-1], pw[i]); err != nil {
			t.Fatalf("change %d (%q → %q): %v", i, pw[i-1], pw[i], err)
		}
	}
	cur := pw[len(pw)-1]
	// History is now pw[1..5]: the last five before the current one.
	for _, p := range pw[1 : len(pw)-1] {
		if err := d.ChangePassword(context.Background(), id, cur, p); ccgw.CodeOf(err) != ccgw.RetPwdRule {
			t.Errorf("back to %q: %v, want 110-019", p, err)
		}
	}
	if err := d.ChangePassword(context.Background(), id, cur, cur); ccgw.CodeOf(err) != ccgw.RetPwdSameAsOld {
		t.Errorf("to the current password: %v, want 110-017", err)
	}
	// A refused change leaves the password as it was.
	if !d.CheckPassword(id, cur) {
		t.Fatalf("after refused changes the current password %q no longer signs in", cur)
	}
	// pw[0] is six changes back: allowed again.
	if err := d.ChangePassword(context.Background(), id, cur, pw[0]); err != nil {
		t.Fatalf("back to %q (six changes ago): %v, want accepted", pw[0], err)
	}
	for _, p := range pw[1:] {
		if d.CheckPassword(id, p) {
			t.Errorf("old password %q still signs in", p)
		}
	}
	if !d.CheckPassword(id, pw[0]) {
		t.Errorf("new password %q does not sign in", pw[0])
	}
}

// TestChangePasswordErrors has one row per retcode of ChangePassword; every row
// is refused, so the rows do not affect each other.
func TestChangePasswordErrors(t *testing.T) {
	d := tFileDirectory(t)
	tests := []struct {
		name      string
		id        ccgw.AgentID
		old, next string
		want      ccgw.Retcode
	}{
		{"wrong old password", 1001, "wrong!pw1", "Gr8!Pass", ccgw.RetOldPasswordWrong},
		{"empty old password", 1001, "", "Gr8!Pass", ccgw.RetOldPasswordWrong},
		{"other agent's password", 1001, "B0b!secret", "Gr8!Pass", ccgw.RetOldPasswordWrong},
		{"unknown agent", 1999, "S3cret!pw", "Gr8!Pass", ccgw.RetQueryNoAgent},
		{"too short", 1001, "S3cret!pw", "Sh0rt!", ccgw.RetPwdLength},
		{"same as old", 1001, "S3cret!pw", "S3cret!pw", ccgw.RetPwdSameAsOld},
		{"the name", 1001, "S3cret!pw", "Alexandra", ccgw.RetPwdLikeName},
		{"the name reversed", 1001, "S3cret!pw", "ardnaxelA", ccgw.RetPwdLikeName},
		{"the work number's digits", 1001, "S3cret!pw", "Ab!x1001y", ccgw.RetPwdRule},
		{"two classes", 1002, "B0b!secret", "onlylowerdigits12", ccgw.RetPwdRule},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := d.ChangePassword(context.Background(), tc.id, tc.old, tc.next)
			if got := ccgw.CodeOf(err); got != tc.want {
				t.Fatalf("ChangePassword = %v (%q), want %q", err, got, tc.want)
			}
			if tc.id == 1001 && !d.CheckPassword(1001, "S3cret!pw") {
				t.Fatal("a refused change replaced the password")
			}
		})
	}
}

// TestChangePasswordOpenDirectory checks the built-in directory: any non-empty
// old password is right until the first change, after which only the new one is.
func TestChangePasswordOpenDirectory(t *testing.T) {
	d := Default()
	const id ccgw.AgentID = 4242
	if err := d.ChangePassword(context.Background(), id, "anything", "agent4242"); ccgw.CodeOf(err) != ccgw.RetPwdLikeName {
		t.Fatalf("new password = the default name agent4242: %v, want 110-018", err)
	}
	if err := d.ChangePassword(context.Background(), id, "anything", "2424tnega"); ccgw.CodeOf(err) != ccgw.RetPwdLikeName {
		t.Fatalf("new password = the reversed default name: %v, want 110-018", err)
	}
	if err := d.ChangePassword(context.Background(), id, "anything", "Gr8!Pass"); err != nil {
		t.Fatal(err)
	}
	if d.CheckPassword(id, "anything") || d.CheckPassword(id, "other") {
		t.Error("after a change an arbitrary password still signs in")
	}
	if !d.CheckPassword(id, "Gr8!Pass") {
		t.Error("the new password does not sign in")
	}
	if err := d.ChangePassword(context.Background(), id, "anything", "N3w!Pass"); ccgw.CodeOf(err) != ccgw.RetOldPasswordWrong {
		t.Errorf("old password no longer right: %v, want 110-003", err)
	}
	// Other agents are unaffected.
	if !d.CheckPassword(4243, "anything") {
		t.Error("another agent of the open directory lost its any-password sign-in")
	}
}
