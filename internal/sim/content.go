package sim

import (
	"encoding/json"
	"strconv"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/session"
)

func content(v any) json.RawMessage { return ccgw.Content(v) }

func (c *Call) feature() string { return strconv.Itoa(c.Feature) }

// callContent is the content of AgentEvent_Ringing and AgentEvent_Auto_Answer.
func callContent(c *Call) json.RawMessage {
	transfer, from := "no", ""
	if c.Transfer != 0 {
		transfer, from = "yes", c.Transfer.String()
	}
	return content(map[string]any{
		"caller": c.Caller, "transfer": transfer, "called": c.Called, "transfrom": from,
		"callid": c.ID, "type": "main", "feature": c.feature(), "mediaAbility": "1", "mediaType": 5,
	})
}

// talkingContent is the content of AgentEvent_Talking.
func talkingContent(c *Call) json.RawMessage {
	return content(map[string]string{
		"caller": c.Caller, "called": c.Called, "callid": c.ID, "type": "main",
		"feature": c.feature(), "mediaAbility": "1",
	})
}

// customer returns the customer's number in c.
func (c *Call) customer() string {
	if c.Dir == Outbound {
		return c.Called
	}
	return c.Caller
}

func phoneRelease(state int) session.Emit {
	return session.Emit{Type: ccgw.EvPhoneRelease, Content: content(map[string]int{"phoneState": state})}
}

// phoneUp returns the phone events at the start of a call for a session whose
// phone is released between calls (releasephone, the default; spec-voicecall §1.3).
func phoneUp(s *ccgw.Session) []session.Emit {
	if !s.ReleasePhone {
		return nil
	}
	return []session.Emit{
		{Type: ccgw.EvPhoneAlerting},
		{Type: ccgw.EvPhoneOffhook, Content: content(map[string]string{"type": "main"})},
	}
}

// phoneDown returns AgentOther_PhoneRelease for such a session.
func phoneDown(s *ccgw.Session, state int) []session.Emit {
	if !s.ReleasePhone {
		return nil
	}
	return []session.Emit{phoneRelease(state)}
}
