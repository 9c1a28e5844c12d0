package session

// Sign-ins against a real directory from agent.FromFile, on a node whose
// sessions are kept in a real bbolt file (as --store bolt runs).

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
)

var tFileStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// tFileDirectory is the directory of an --agents file with two agents.
func tFileDirectory(tb testing.TB) *agent.Directory {
	tb.Helper()
	var f agent.File
	err := json.Unmarshal([]byte(`{
		"skills": [{"id": 1, "name": "Sales", "mediatype": 5}, {"id": 7, "name": "Chat", "mediatype": 51}],
		"agents": [
			{"workNo": "1001", "name": "Alice", "password": "S3cret!pw", "skills": [1, 7]},
			{"workNo": "1002", "name": "Bob", "password": "0therPw!x", "skills": [1]}
		]}`), &f)
	if err != nil {
		tb.Fatal(err)
	}
	d, err := agent.FromFile(f)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func TestSignInWithDirectoryFile(t *testing.T) {
	dir := tFileDirectory(t)
	tests := []struct {
		name       string
		id         ccgw.AgentID
		password   string
		skip       bool
		status     ccgw.AgentState
		want       ccgw.Retcode
		wantSkills []int
		wantEvents []string
	}{
		{name: "right password", id: 1001, password: "S3cret!pw", status: ccgw.StateIdle, want: ccgw.RetOK,
			wantSkills: []int{1, 7}, wantEvents: []string{ccgw.EvInService, ccgw.EvReady}},
		{name: "busy", id: 1002, password: "0therPw!x", status: ccgw.StateBusy, want: ccgw.RetOK,
			wantSkills: []int{1}, wantEvents: []string{ccgw.EvInService, ccgw.EvReady, ccgw.EvSetNotReadySuccess}},
		{name: "work", id: 1002, password: "0therPw!x", status: ccgw.StateWork, want: ccgw.RetOK,
			wantSkills: []int{1}, wantEvents: []string{ccgw.EvInService, ccgw.EvReady, ccgw.EvWork}},
		{name: "another agent's password", id: 1001, password: "0therPw!x", want: ccgw.RetBadPassword},
		{name: "wrong case", id: 1001, password: "s3cret!pw", want: ccgw.RetBadPassword},
		{name: "empty password", id: 1001, password: "", want: ccgw.RetBadPassword},
		{name: "agent not in the file", id: 1003, password: "S3cret!pw", want: ccgw.RetBadPassword},
		{name: "out of range", id: 50, password: "S3cret!pw", want: ccgw.RetBadPassword},
		// loginEx checks the password as login does: an empty one never matches
		// a configured password.
		{name: "loginEx without password", id: 1001, want: ccgw.RetBadPassword},
		{name: "loginEx for an agent not in the file", id: 1003, want: ccgw.RetBadPassword},
		// Only the simulated call centre's own sign-ins skip the check.
		{name: "simulated agent", id: 1001, skip: true, status: ccgw.StateIdle, want: ccgw.RetOK,
			wantSkills: []int{1, 7}, wantEvents: []string{ccgw.EvInService, ccgw.EvReady}},
		{name: "simulated agent not in the file", id: 1003, skip: true, want: ccgw.RetBadPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, m := openFileNode(t, ccgw.SessionSettings{
				Clock:     clock.NewVirtual(tFileStart),
				Directory: dir,
				AuthMode:  ccgw.AuthStatic,
				NodeName:  "Node7",
			})
			s, err := m.SignIn(context.Background(), ccgw.SignIn{Op: "login", Password: tt.password, SkipPassword: tt.skip, Status: tt.status,
				Session: ccgw.Session{Agent: tt.id, Phone: "70001", MediaType: "TTF"}})
			if got := ccgw.CodeOf(err); got != tt.want {
				t.Fatalf("SignIn retcode %s (%v), want %s", got, err, tt.want)
			}
			var stored []ccgw.Session
			if err := st.LoadSessions(func(x *ccgw.Session) error { stored = append(stored, *x); return nil }); err != nil {
				t.Fatal(err)
			}
			if tt.want != ccgw.RetOK {
				if n := m.Stats(context.Background()); n.Live != 0 || len(stored) != 0 || n.SignIns != 0 {
					t.Fatalf("failed sign-in left live=%d stored=%d signIns=%d", n.Live, len(stored), n.SignIns)
				}
				if _, ok := m.Lookup(context.Background(), tt.id); ok {
					t.Fatal("failed sign-in is visible")
				}
				return
			}
			now := ccgw.Millis(tFileStart)
			if s.Agent != tt.id || s.Gen == 0 || !strings.HasSuffix(s.GUID, ".Node7") || len(s.GUID) != 36+len(".Node7") ||
				s.LoginTime != now || s.GUIDIssued != now || s.StateSince != now || s.State != tt.status ||
				s.Phone != "70001" || s.MediaType != "TTF" || !s.TalkRight || !slices.Equal(s.Skills, tt.wantSkills) {
				t.Fatalf("session %+v", s)
			}
			if len(stored) != 1 || stored[0].GUID != s.GUID || stored[0].Gen != s.Gen {
				t.Fatalf("stored %+v, want the session", stored)
			}
			if n := m.Stats(context.Background()); n.Live != 1 || n.SignIns != 1 {
				t.Fatalf("live=%d signIns=%d", n.Live, n.SignIns)
			}
			var got []string
			for {
				ev, _, err := m.Poll(context.Background(), tt.id, s.GUID, 0)
				if err != nil {
					t.Fatal(err)
				}
				if ev == nil {
					break
				}
				got = append(got, ev.Type)
			}
			if !slices.Equal(got, tt.wantEvents) {
				t.Fatalf("first events %v, want %v", got, tt.wantEvents)
			}
		})
	}
}

// TestSignInAfterPasswordChange checks that sign-in asks the directory each
// time: the old password stops working once it is changed.
func TestSignInAfterPasswordChange(t *testing.T) {
	dir := tFileDirectory(t)
	_, m := openFileNode(t, ccgw.SessionSettings{Clock: clock.NewVirtual(tFileStart), Directory: dir})
	if err := dir.SetPassword(1001, "N3w!passw"); err != nil {
		t.Fatal(err)
	}
	_, err := m.SignIn(context.Background(), ccgw.SignIn{Op: "login", Password: "S3cret!pw", Session: ccgw.Session{Agent: 1001}})
	if got := ccgw.CodeOf(err); got != ccgw.RetBadPassword {
		t.Fatalf("old password: retcode %s, want %s", got, ccgw.RetBadPassword)
	}
	if _, err := m.SignIn(context.Background(), ccgw.SignIn{Op: "login", Password: "N3w!passw", Session: ccgw.Session{Agent: 1001}}); err != nil {
		t.Fatalf("new password: %v", err)
	}
}

// openFileNode opens a node as --store bolt does: Service (Local) on a
// mem.Shared kept in a bbolt file, which it returns to read what is stored.
func openFileNode(t *testing.T, set ccgw.SessionSettings) (*bolt.Store, *Service) {
	t.Helper()
	st, err := bolt.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	set.Defaults()
	db, _, err := mem.OpenShared(mem.Durable{Log: st, Deadline: func(s *ccgw.Session) int64 {
		return set.Deadline(set.Clock.Now(), s.Mode)
	}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{SessionSettings: set, Store: db, Local: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); db.Flush() })
	return st, m
}
