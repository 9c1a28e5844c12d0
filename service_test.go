package ccgw

import (
	"slices"
	"testing"
	"time"
)

// TestSignInStart: a sign-in's session keeps the client's options and takes
// the rest from the sign-in, the agent and the clock, on both backends alike.
func TestSignInStart(t *testing.T) {
	now := time.UnixMilli(1772442000123)
	req := SignIn{Op: "forceLogin", Status: StateBusy, Session: Session{
		Agent: 1001, Phone: "70001", Mode: ModePush, CallbackURI: "https://crm.example/cb",
		Skills: []int{99}, State: StateTalking, TalkRight: false, GUID: "client's",
	}}
	a := Agent{ID: 1001, Skills: []Skill{{ID: 1}, {ID: 7}}}
	s := req.Start(a, 42, "g.AgentGateway0", now)
	if s.Agent != 1001 || s.Phone != "70001" || s.Mode != ModePush || s.CallbackURI != "https://crm.example/cb" {
		t.Fatalf("client's options lost: %+v", s)
	}
	if s.Gen != 42 || s.GUID != "g.AgentGateway0" || s.Op != "forceLogin" || s.State != StateBusy || !s.TalkRight {
		t.Fatalf("sign-in's fields: %+v", s)
	}
	if s.LoginTime != 1772442000123 || s.GUIDIssued != s.LoginTime || s.StateSince != s.LoginTime {
		t.Fatalf("times: %+v", s)
	}
	if !slices.Equal(s.Skills, []int{1, 7}) {
		t.Fatalf("skills %v, want the agent's [1 7]", s.Skills)
	}
	if req.Session.Skills[0] != 99 {
		t.Fatal("the request's session was changed")
	}
}

// TestSignInEvents: the events of a sign-in in each status.
func TestSignInEvents(t *testing.T) {
	for _, tc := range []struct {
		status AgentState
		want   []string
	}{
		{StateIdle, []string{EvInService, EvReady}},
		{StateBusy, []string{EvInService, EvReady, EvSetNotReadySuccess}},
		{StateWork, []string{EvInService, EvReady, EvWork}},
	} {
		req := SignIn{Status: tc.status}
		evs := req.Events()
		var got []string
		for _, e := range evs {
			got = append(got, e.Type)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("status %d: %v, want %v", tc.status, got, tc.want)
		}
		if tc.status == StateBusy && string(evs[2].Content) != `{"reason":"0"}` {
			t.Errorf("busy content %s", evs[2].Content)
		}
	}
}
