package ccgw

import "encoding/json"

// Event is one agent event as delivered by poll or push (events.md §1). Field order
// is the order of the vendor's examples.
type Event struct {
	Type    string          `json:"eventType"`
	GenTime int64           `json:"eventGenTime"` // ms epoch
	WorkNo  string          `json:"workNo"`
	Content json.RawMessage `json:"content"` // object, string or null
	// Seq numbers an agent's events from 1 within one sign-in, so that a receiver
	// can drop duplicates of a retried push. It is not a field of the event on
	// the wire (which has exactly the spec's fields): a poll answer carries it in
	// the X-CCGW-Seq header, a push the Seq of its first event.
	Seq uint64 `json:"-"`
}

// Event types (events.md §3).
const (
	EvInService             = "AgentOther_InService"
	EvShutdownService       = "AgentOther_ShutdownService"
	EvReady                 = "AgentState_Ready"
	EvBusy                  = "AgentState_Busy"
	EvWork                  = "AgentState_Work"
	EvSetNotReadySuccess    = "AgentState_SetNotReady_Success"
	EvCancelNotReadySuccess = "AgentState_CancelNotReady_Success"
	EvSetRestSuccess        = "AgentState_SetRest_Success"
	EvCancelRestSuccess     = "AgentState_CancelRest_Success"
	EvRestTimeout           = "AgentState_Rest_Timeout"
	EvSetWorkSuccess        = "AgentState_SetWork_Success"
	EvCancelWorkSuccess     = "AgentState_CancelWork_Success"
	EvForceReady            = "AgentState_Force_Ready"
	EvForceSetNotReady      = "AgentState_Force_SetNotReady"
)

// DropReason says why an event was not delivered.
type DropReason string

// Reasons an event is dropped; each is counted and logged.
const (
	DropQueueFull    DropReason = "queue_full"    // the agent's queue was at its bound
	DropSessionEnded DropReason = "session_ended" // the session ended with the event undelivered
	DropPushFailed   DropReason = "push_failed"   // every push attempt failed
	DropFault        DropReason = "fault"         // a drop-events fault was on (admin API, scenario)
)

// Call event types (events.md §3.2, §3.3).
const (
	EvIncomingCallInfo = "AgentEvent_Incoming_CallInfo"
	EvRinging          = "AgentEvent_Ringing"
	EvAutoAnswer       = "AgentEvent_Auto_Answer"
	EvCustomerAlerting = "AgentEvent_Customer_Alerting"
	EvTalking          = "AgentEvent_Talking"
	EvHold             = "AgentEvent_Hold"
	EvCallOutFail      = "AgentEvent_Call_Out_Fail"
	EvInsideCallFail   = "AgentEvent_Inside_Call_Fail"
	EvConnectFail      = "AgentEvent_Connect_Fail"
	EvNoAnswer         = "AgentEvent_No_Answer"
	EvCallRelease      = "AgentEvent_Call_Release"
	EvCustomerRelease  = "AgentEvent_Customer_Release"
	EvPhoneAlerting    = "AgentOther_PhoneAlerting"
	EvPhoneOffhook     = "AgentOther_PhoneOffhook"
	EvPhoneRelease     = "AgentOther_PhoneRelease"
)

// Transfer and conference event types (docs/spec-voicecall.md §1.2).
const (
	EvSuccTransResult = "AgentEvent_SuccTransResult"
	EvReturnFromIVR   = "AgentEvent_ReturnFromIvr"
	EvConference      = "AgentEvent_Conference"
)

// Emit is an event a change of a session produces, before it is numbered and
// queued.
type Emit struct {
	Type    string
	Content json.RawMessage
}

// Content encodes v as event content; nil is JSON null. It panics on a value that
// cannot be encoded, which only a programming error produces.
func Content(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic("ccgw: content: " + err.Error())
	}
	return b
}

// Headers of ccgw's own that a push and a poll answer carry beside the
// vendor's.
const (
	// SeqHeader carries the sequence number of the first event of a push or
	// of a poll's event; the others of a push follow it one by one, so a
	// receiver can drop events it already has.
	SeqHeader = "X-CCGW-Seq"
	// SignatureHeader carries a push's signature when a secret is configured:
	// "t=<unix ms>,v1=<hex HMAC-SHA256(secret, t + "." + body)>".
	SignatureHeader = "X-CCGW-Signature"
)
