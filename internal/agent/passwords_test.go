package agent

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ccgw/ccgw"
)

// TestPasswordHash checks one hash: it matches its password only, two hashes of
// one password differ (fresh salt), and a hash of an unknown kind, count or
// length matches nothing.
func TestPasswordHash(t *testing.T) {
	h := hashPassword("Gr8!Pass")
	if h.Alg != "pbkdf2-sha256" || h.Iter != PasswordIter || len(h.Salt) != 16 || len(h.Hash) != 32 {
		t.Fatalf("hash %+v: want pbkdf2-sha256, %d iterations, 16-byte salt, 32-byte hash", h, PasswordIter)
	}
	for pw, want := range map[string]bool{"Gr8!Pass": true, "gr8!Pass": false, "Gr8!Pass ": false, "": false} {
		if got := h.Matches(pw); got != want {
			t.Errorf("Matches(%q) = %v, want %v", pw, got, want)
		}
	}
	h2 := hashPassword("Gr8!Pass")
	if bytes.Equal(h.Salt, h2.Salt) || bytes.Equal(h.Hash, h2.Hash) {
		t.Error("two hashes of one password share their salt or hash")
	}
	for name, edit := range map[string]func(*PasswordHash){
		"unknown alg":    func(h *PasswordHash) { h.Alg = "sha1" },
		"zero count":     func(h *PasswordHash) { h.Iter = 0 },
		"huge count":     func(h *PasswordHash) { h.Iter = 1 << 30 },
		"other count":    func(h *PasswordHash) { h.Iter = PasswordIter + 1 },
		"short hash":     func(h *PasswordHash) { h.Hash = h.Hash[:16] },
		"other salt":     func(h *PasswordHash) { h.Salt = h2.Salt },
		"no salt":        func(h *PasswordHash) { h.Salt = nil },
		"empty (zero)":   func(h *PasswordHash) { *h = PasswordHash{} },
		"flipped bit":    func(h *PasswordHash) { h.Hash = append([]byte(nil), h.Hash...); h.Hash[31] ^= 1 },
		"other password": func(h *PasswordHash) { *h = hashPassword("Other!pw1") },
	} {
		x := h
		edit(&x)
		if x.Matches("Gr8!Pass") {
			t.Errorf("%s: still matches", name)
		}
	}
	r, err := decodeRecord(encodeRecord(PasswordRecord{Current: h, History: []PasswordHash{h2}}))
	if err != nil || !r.Current.Matches("Gr8!Pass") || !r.Used("Gr8!Pass") || r.Used("Other!pw1") {
		t.Errorf("record after encode and decode: %+v, %v", r, err)
	}
	if _, err := decodeRecord([]byte("not json")); err == nil {
		t.Error("decodeRecord of garbage: no error")
	}
}

// TestStoredPasswordsAreHashes changes passwords through a directory and checks
// what its store holds: a record per changed agent, with none of the passwords
// in it (nor their base64), whose hashes still enforce the rules.
func TestStoredPasswordsAreHashes(t *testing.T) {
	mem := NewMemPasswords()
	d := tFileDirectory(t)
	d.UsePasswords(mem)
	pw := []string{"S3cret!pw", "Pass!wd01", "Pass!wd02", "Pass!wd03", "Pass!wd04", "Pass!wd05", "Pass!wd06"}
	for i := 1; i < len(pw); i++ {
		if err := d.ChangePassword(context.Background(), 1001, pw[i-1], pw[i]); err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
	}
	if err := d.SetPassword(1002, "Set!by-admin1"); err != nil {
		t.Fatal(err)
	}
	if raw, _ := mem.Password(context.Background(), 1003); raw != nil {
		t.Errorf("agent 1003 never changed its password, but has a record %s", raw)
	}
	for id, want := range map[ccgw.AgentID]struct {
		current string
		all     []string
	}{
		1001: {pw[len(pw)-1], pw},
		1002: {"Set!by-admin1", []string{"Set!by-admin1", "B0b!secret"}},
	} {
		raw, err := mem.Password(context.Background(), id)
		if err != nil || raw == nil {
			t.Fatalf("agent %d: record %q, %v", id, raw, err)
		}
		for _, p := range want.all {
			b64 := strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(p)), "=")
			for _, form := range []string{p, strings.ToLower(p), b64} {
				if bytes.Contains(bytes.ToLower(raw), []byte(strings.ToLower(form))) {
					t.Errorf("agent %d: the stored record contains %q (from %q): %s", id, form, p, raw)
				}
			}
		}
		rec, err := decodeRecord(raw)
		if err != nil {
			t.Fatal(err)
		}
		if !rec.Current.Matches(want.current) {
			t.Errorf("agent %d: the current hash does not match %q", id, want.current)
		}
	}
	rec, _ := decodeRecord(must(mem.Password(context.Background(), 1001)))
	if len(rec.History) != HistoryLen {
		t.Fatalf("history of %d hashes, want %d", len(rec.History), HistoryLen)
	}
	for i, h := range rec.History { // the five before the current one, oldest first
		if !h.Matches(pw[i+1]) {
			t.Errorf("history[%d] does not match %q", i, pw[i+1])
		}
	}
	if !rec.Current.Matches(pw[6]) {
		t.Error("the current hash does not match the newest password")
	}
	// SetPassword keeps the history: the last five are still refused.
	if err := d.SetPassword(1001, "Set!by-admin2"); err != nil {
		t.Fatal(err)
	}
	if err := d.ChangePassword(context.Background(), 1001, "Set!by-admin2", pw[3]); ccgw.CodeOf(err) != ccgw.RetPwdRule {
		t.Errorf("after SetPassword, back to %q: %v, want 110-019", pw[3], err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestSharedPasswordStore models two gateway nodes: two directories on one
// store. A change through one holds on the other at once, and the other's rules
// see its history.
func TestSharedPasswordStore(t *testing.T) {
	shared := NewMemPasswords()
	a, b := Default(), Default()
	a.UsePasswords(shared)
	b.UsePasswords(shared)
	if err := a.ChangePassword(context.Background(), 4242, "anything", "Gr8!Pass"); err != nil {
		t.Fatal(err)
	}
	if b.CheckPassword(4242, "anything") || !b.CheckPassword(4242, "Gr8!Pass") {
		t.Error("the other node does not see the change")
	}
	if err := b.ChangePassword(context.Background(), 4242, "Gr8!Pass", "N3w!Pass"); err != nil {
		t.Fatal(err)
	}
	if err := a.ChangePassword(context.Background(), 4242, "N3w!Pass", "Gr8!Pass"); ccgw.CodeOf(err) != ccgw.RetPwdRule {
		t.Errorf("back to a password changed on the other node: %v, want 110-019", err)
	}
}

// TestConcurrentChanges races changes of one agent from the same old password:
// exactly one wins, the rest find the old password wrong (110-003), and the
// history holds the replaced password once.
func TestConcurrentChanges(t *testing.T) {
	d := tFileDirectory(t)
	const n = 8
	codes := make([]ccgw.Retcode, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			codes[i] = ccgw.CodeOf(d.ChangePassword(context.Background(), 1001, "S3cret!pw", "Gr8!Pass"+string(rune('a'+i))))
		})
	}
	wg.Wait()
	won := -1
	for i, c := range codes {
		switch {
		case c == ccgw.RetOK && won < 0:
			won = i
		case c == ccgw.RetOK:
			t.Errorf("changes %d and %d both succeeded", won, i)
		case c != ccgw.RetOldPasswordWrong:
			t.Errorf("change %d: %s, want 0 or 110-003", i, c)
		}
	}
	if won < 0 {
		t.Fatal("no change succeeded")
	}
	if !d.CheckPassword(1001, "Gr8!Pass"+string(rune('a'+won))) {
		t.Error("the winner's password does not sign in")
	}
	rec, _ := decodeRecord(must(d.passwords.Password(context.Background(), 1001)))
	if len(rec.History) != 1 || !rec.History[0].Matches("S3cret!pw") {
		t.Errorf("history of %d, want just the configured password", len(rec.History))
	}
}

// failStore is a ccgw.PasswordStore that fails (like Redis while it is down),
// or whose swaps always lose a race.
type failStore struct {
	readErr, swapErr error
	loseSwaps        bool
}

func (f failStore) Password(context.Context, ccgw.AgentID) ([]byte, error) { return nil, f.readErr }

func (f failStore) SwapPassword(context.Context, ccgw.AgentID, []byte, []byte) (bool, error) {
	return !f.loseSwaps && f.swapErr == nil, f.swapErr
}

// TestPasswordStoreFails checks that a store that cannot be read or written is
// a system error (100-007) for sign-in, change and set, never a wrong password;
// and that a change that keeps losing races is 110-002.
func TestPasswordStoreFails(t *testing.T) {
	down := errors.New("connection refused")
	for _, tc := range []struct {
		name   string
		store  failStore
		verify ccgw.Retcode // of the configured password
		change ccgw.Retcode
	}{
		{"read fails", failStore{readErr: down}, ccgw.RetInternal, ccgw.RetInternal},
		{"write fails", failStore{swapErr: down}, ccgw.RetOK, ccgw.RetInternal},
		{"swaps lose", failStore{loseSwaps: true}, ccgw.RetOK, ccgw.RetPwdChangeFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tFileDirectory(t)
			d.UsePasswords(tc.store)
			err := ccgw.VerifyPassword(context.Background(), d, "login", 1001, "S3cret!pw")
			if got := ccgw.CodeOf(err); got != tc.verify {
				t.Errorf("VerifyPassword: %v, want %s", err, tc.verify)
			}
			if d.CheckPassword(1001, "S3cret!pw") != (tc.verify == ccgw.RetOK) {
				t.Errorf("CheckPassword disagrees with VerifyPassword (%s)", tc.verify)
			}
			var e *ccgw.Error
			if err != nil && (!errors.As(err, &e) || e.Op != "login" || (tc.store.readErr != nil && !errors.Is(err, down))) {
				t.Errorf("VerifyPassword error %#v: want Op login and the store's error as cause", err)
			}
			if got := ccgw.CodeOf(d.ChangePassword(context.Background(), 1001, "S3cret!pw", "Gr8!Pass")); got != tc.change {
				t.Errorf("ChangePassword: %s, want %s", got, tc.change)
			}
			if got := ccgw.CodeOf(d.SetPassword(1001, "Gr8!Pass")); got != tc.change {
				t.Errorf("SetPassword: %s, want %s", got, tc.change)
			}
			// A wrong password is still 100-004 when the store can be read.
			if tc.store.readErr == nil {
				if got := ccgw.CodeOf(ccgw.VerifyPassword(context.Background(), d, "login", 1001, "wrong")); got != ccgw.RetBadPassword {
					t.Errorf("wrong password: %s, want 100-004", got)
				}
			}
		})
	}
}

// plainDirectory is a ccgw.Directory without VerifyPassword.
type plainDirectory struct{}

func (plainDirectory) Agent(id ccgw.AgentID) (ccgw.Agent, bool)     { return ccgw.Agent{ID: id}, true }
func (plainDirectory) CheckPassword(_ ccgw.AgentID, pw string) bool { return pw == "ok" }
func (plainDirectory) SetPassword(ccgw.AgentID, string) error       { return nil }

// TestVerifyPasswordPlain checks ccgw.VerifyPassword on a directory that cannot
// fail: CheckPassword decides, false is 100-004 with the operation's name.
func TestVerifyPasswordPlain(t *testing.T) {
	if err := ccgw.VerifyPassword(context.Background(), plainDirectory{}, "login", 1001, "ok"); err != nil {
		t.Errorf("right password: %v", err)
	}
	err := ccgw.VerifyPassword(context.Background(), plainDirectory{}, "forceLogin", 1001, "no")
	var e *ccgw.Error
	if !errors.As(err, &e) || e.Code != ccgw.RetBadPassword || e.Op != "forceLogin" {
		t.Errorf("wrong password: %#v, want 100-004 with Op forceLogin", err)
	}
}

// TestCheckWorkIsEqual shows that a password check does the same work whatever
// the agent: one store read (VerifyPassword always reads the record) and exactly
// one PBKDF2 hash for a non-empty password, whether the agent exists or not,
// changed its password or not, and the password is right or wrong; none for an
// empty one. So the time a sign-in takes does not tell which agents changed
// their password (it did: 137 µs unchanged, 1,069 µs changed), nor which work
// numbers an --agents file lists. The one hash-free non-empty case is an
// unchanged agent of the built-in directory, which has no secret and which any
// password signs in (the success says it was unchanged). Time itself is not
// measured: counting the hashes is what cannot flake.
func TestCheckWorkIsEqual(t *testing.T) {
	reads := &readCounter{PasswordStore: NewMemPasswords()}
	file := tFileDirectory(t)
	file.UsePasswords(reads)
	if err := file.SetPassword(1002, "Ch4nged!pw"); err != nil {
		t.Fatal(err)
	}
	open := Default()
	open.UsePasswords(reads)
	if err := open.SetPassword(2002, "Ch4nged!pw"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		d    *Directory
		id   ccgw.AgentID
		pw   string
		ok   bool
	}{
		{"file, unchanged, right", file, 1001, "S3cret!pw", true},
		{"file, unchanged, wrong", file, 1001, "guess", false},
		{"file, changed, right", file, 1002, "Ch4nged!pw", true},
		{"file, changed, wrong", file, 1002, "guess", false},
		{"file, changed, the configured one", file, 1002, "B0b!secret", false},
		{"file, not listed", file, 1004, "guess", false},
		{"built-in, changed, right", open, 2002, "Ch4nged!pw", true},
		{"built-in, changed, wrong", open, 2002, "guess", false},
	} {
		before, r0 := tc.d.Hashes(), reads.n.Load()
		err := tc.d.VerifyPassword(context.Background(), tc.id, tc.pw)
		if (err == nil) != tc.ok {
			t.Errorf("%s: VerifyPassword = %v, want ok %v", tc.name, err, tc.ok)
		}
		if n, r := tc.d.Hashes()-before, reads.n.Load()-r0; n != 1 || r != 1 {
			t.Errorf("%s: %d hashes, %d store reads; want 1, 1", tc.name, n, r)
		}
	}
	before, r0 := open.Hashes(), reads.n.Load()
	if err := open.VerifyPassword(context.Background(), 2001, "guess"); err != nil {
		t.Errorf("built-in, unchanged: %v", err)
	}
	if n, r := open.Hashes()-before, reads.n.Load()-r0; n != 0 || r != 1 {
		t.Errorf("built-in, unchanged: %d hashes, %d store reads; want 0 (no secret), 1", n, r)
	}
	for _, tc := range []struct {
		name string
		d    *Directory
		id   ccgw.AgentID
		ok   bool
	}{
		{"file, unchanged", file, 1001, false},
		{"file, changed", file, 1002, false},
		{"file, not listed", file, 1004, false},
		{"built-in, unchanged", open, 2001, true},
		{"built-in, changed", open, 2002, false},
	} {
		before, r0 := tc.d.Hashes(), reads.n.Load()
		if err := tc.d.VerifyPassword(context.Background(), tc.id, ""); (err == nil) != tc.ok {
			t.Errorf("%s, empty password: %v, want ok %v", tc.name, err, tc.ok)
		}
		if n, r := tc.d.Hashes()-before, reads.n.Load()-r0; n != 0 || r != 1 {
			t.Errorf("%s, empty password: %d hashes, %d store reads; want 0, 1", tc.name, n, r)
		}
	}
}

// readCounter is a PasswordStore that counts its reads.
type readCounter struct {
	ccgw.PasswordStore
	n atomic.Int64
}

func (r *readCounter) Password(ctx context.Context, id ccgw.AgentID) ([]byte, error) {
	r.n.Add(1)
	return r.PasswordStore.Password(ctx, id)
}
