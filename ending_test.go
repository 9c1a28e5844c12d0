package ccgw

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestEndingOf(t *testing.T) {
	s := &Session{LoginTime: 1700000000123}
	for _, tt := range []struct {
		cause     SignOutCause
		drop      DropReason
		tells     bool
		loggedOut bool
	}{
		{CauseLogout, DropSessionEnded, false, true},
		{CauseForceLogout, DropSessionEnded, false, true},
		{CauseReplaced, "", true, false},
		{CauseTimeout, "", true, false},
		{CauseSupervisor, "", true, false},
		{CausePushFailed, DropPushFailed, true, false},
	} {
		e := EndingOf(s, tt.cause)
		if e.Drop != tt.drop || e.Tells() != tt.tells || e.LoggedOut != tt.loggedOut {
			t.Errorf("%s: %+v, want drop %q, tells %v, loggedOut %v", tt.cause, e, tt.drop, tt.tells, tt.loggedOut)
		}
		if tt.tells && (e.Shutdown.Type != EvShutdownService || string(e.Shutdown.Content) != `{"loginTime":"1700000000123"}`) {
			t.Errorf("%s: shutdown %s %s", tt.cause, e.Shutdown.Type, e.Shutdown.Content)
		}
	}
}

// TestShutdownContent: the hand-built content is what Content would marshal.
func TestShutdownContent(t *testing.T) {
	for _, ms := range []int64{0, 1, 1700000000123, -5} {
		want := Content(map[string]string{"loginTime": strconv.FormatInt(ms, 10)})
		if got := ShutdownContent(ms); string(got) != string(want) {
			t.Errorf("%d: %s, want %s", ms, got, want)
		}
	}
}

func TestCheckSignOut(t *testing.T) {
	for _, tt := range []struct {
		state AgentState
		cause SignOutCause
		want  Retcode
	}{
		{StateIdle, CauseLogout, RetOK},
		{StateTalking, CauseLogout, RetLogoutStateError},
		{StateTalking, CauseForceLogout, RetOK},
		{StateRest, CauseLogout, RetOK},
	} {
		err := CheckSignOut(&Session{State: tt.state}, tt.cause)
		var e *Error
		if got := CodeOf(err); got != tt.want || (err != nil && !errors.As(err, &e)) {
			t.Errorf("%v, %s: %v, want %s", tt.state, tt.cause, err, tt.want)
		}
	}
}

func TestRestTimedOut(t *testing.T) {
	now := time.UnixMilli(1700000100000)
	rest := func() Session { return Session{State: StateRest, RestSeq: 3, RestUntil: now.UnixMilli()} }
	for _, tt := range []struct {
		name   string
		edit   func(*Session)
		seq    uint64
		idle   bool
		events []string
		state  AgentState
	}{
		{"due", nil, 3, false, []string{EvRestTimeout}, StateRest},
		{"due, idle", nil, 3, true, []string{EvRestTimeout, EvReady}, StateIdle},
		{"a later rest", nil, 2, false, nil, StateRest},
		{"not yet", func(s *Session) { s.RestUntil = now.UnixMilli() + 1 }, 3, false, nil, StateRest},
		{"reminded already", func(s *Session) { s.RestUntil = 0 }, 3, false, nil, StateRest},
		{"no longer resting", func(s *Session) { s.State = StateBusy }, 3, true, nil, StateBusy},
	} {
		s := rest()
		if tt.edit != nil {
			tt.edit(&s)
		}
		evs, changed := s.RestTimedOut(tt.seq, now, tt.idle)
		var got []string
		for _, em := range evs {
			got = append(got, em.Type)
		}
		if !slices.Equal(got, tt.events) || changed != (tt.events != nil) || s.State != tt.state {
			t.Errorf("%s: %v, %v, state %v; want %v, state %v", tt.name, got, changed, s.State, tt.events, tt.state)
		}
		if changed && s.RestUntil != 0 {
			t.Errorf("%s: RestUntil %d after the reminder, want 0", tt.name, s.RestUntil)
		}
	}
}

func TestHasGUID(t *testing.T) {
	now := time.UnixMilli(1700000100000)
	s := &Session{GUID: "cur", PrevGUID: "prev", PrevUntil: now.UnixMilli() + 1}
	for _, tt := range []struct {
		guid string
		at   time.Time
		want bool
	}{
		{"cur", now, true},
		{"prev", now, true},
		{"prev", now.Add(time.Millisecond), false}, // its grace is over
		{"other", now, false},
		{"", now, false},
	} {
		if got := s.HasGUID(tt.guid, tt.at); got != tt.want {
			t.Errorf("%q at %v: %v, want %v", tt.guid, tt.at.UnixMilli(), got, tt.want)
		}
	}
	if (&Session{}).HasGUID("", now) {
		t.Error("an empty GUID authenticates a session without one")
	}
}
