package ccgw

import "slices"

// Retcode is the wire result code of the CC-Gateway API: "0" for success, otherwise
// "NNN-NNN". It is always sent as a JSON string.
type Retcode string

// Retcodes that ccgw produces. The meanings follow the vendor's error code table
// (https://support.huaweicloud.com/intl/en-us/api-cec/cec_07_0580.html).
const (
	RetOK                Retcode = "0"
	RetUnknown           Retcode = "000-000" // unknown error
	RetWrongEventMethod  Retcode = "000-001" // polling a push-mode session
	RetBadParam          Retcode = "000-002" // URL or parameter invalid
	RetNoPermission      Retcode = "000-003" // GUID invalid or expired
	RetSwitchingOver     Retcode = "000-004" // the agent is being switched over (disaster recovery)
	RetMessageParam      Retcode = "000-006" // message parameter error
	RetRepeated          Retcode = "000-007" // interface invoked repeatedly
	RetLoginParam        Retcode = "100-001" // sign-in parameter empty or invalid; bad service_token
	RetAlreadySignedIn   Retcode = "100-002"
	RetCTIUnavailable    Retcode = "100-003"
	RetBadPassword       Retcode = "100-004"
	RetLogoutParam       Retcode = "100-005"
	RetNotSignedIn       Retcode = "100-006"
	RetInternal          Retcode = "100-007"
	RetAlreadySignedOut  Retcode = "100-008"
	RetSetStateFailed    Retcode = "100-009"
	RetLogoutStateError  Retcode = "100-010"
	RetLoginInvalidParam Retcode = "100-011"
	RetWrongAgentType    Retcode = "100-012"
	RetBadPhone          Retcode = "100-013"
	RetPhoneNotInRange   Retcode = "100-014" // the sign-in phone number is outside the configured range
	RetForceKickDisabled Retcode = "100-015"
	RetBadIP             Retcode = "100-016"
	RetUPortalAuth       Retcode = "100-017" // uPortal authentication failed
	RetVDNMismatch       Retcode = "100-018" // sign-in VDN differs from the playback VDN
	RetSkillQueryParam   Retcode = "100-019" // invalid parameter in a skill queue query
	RetPasswordExpired   Retcode = "100-020"
	RetSigningIn         Retcode = "100-021"
	RetPwdChangeFailed   Retcode = "110-002"
	RetOldPasswordWrong  Retcode = "110-003"
	RetAccountLocked     Retcode = "110-016"
	RetPwdSameAsOld      Retcode = "110-017"
	RetPwdLikeName       Retcode = "110-018"
	RetPwdRule           Retcode = "110-019"
	RetPwdLength         Retcode = "110-020"
	RetQueryNoRight      Retcode = "300-001"
	RetQueryNoAgent      Retcode = "300-002"
	RetNoSkills          Retcode = "600-001"
	RetInspectSelf       Retcode = "000-005" // the agent to be inspected is the inspector
	RetQCNoRight         Retcode = "900-002" // quality control: no right
	RetQCNoAgent         Retcode = "900-004" // quality control: no such agent signed in
	RetQCStateError      Retcode = "900-005" // quality control: state error

	// Voice call (retcodes.md §200 and §400, docs/spec-voicecall.md §5.1).
	RetCallBadNumber  Retcode = "200-001" // callout: the called number is wrong
	RetAnswerNoCall   Retcode = "200-002"
	RetTransferNoCall Retcode = "200-012"
	RetHoldNoCall     Retcode = "200-013"
	RetHoldState      Retcode = "200-014"
	RetGetHoldNoHeld  Retcode = "200-015"
	RetGetHoldState   Retcode = "200-016"
	RetReleaseNoCall  Retcode = "200-017"
	RetDropNoCall     Retcode = "200-025"
	RetHoldListEmpty  Retcode = "400-003"
)

// messages is the one table from retcode to the message sent with it.
var messages = map[Retcode]string{
	RetOK:                "success",
	RetUnknown:           "unknown error",
	RetWrongEventMethod:  "the method for obtaining agent events is wrong",
	RetBadParam:          "the parameter or address passed in the URL is incorrect or an interface parameter is invalid",
	RetNoPermission:      "no permission to invoke the interface, agent authentication may have expired",
	RetSwitchingOver:     "the agent is being switched over",
	RetMessageParam:      "message parameter error",
	RetRepeated:          "the interface is invoked repeatedly",
	RetLoginParam:        "the sign-in parameter is empty or invalid",
	RetAlreadySignedIn:   "the agent has signed in",
	RetCTIUnavailable:    "resource unavailable during sign-in",
	RetBadPassword:       "the user name or password is incorrect",
	RetLogoutParam:       "the sign-out parameter is invalid",
	RetNotSignedIn:       "the agent has not signed in",
	RetInternal:          "an exception occurred during the operation",
	RetAlreadySignedOut:  "the agent has signed out",
	RetSetStateFailed:    "failed to set the agent state",
	RetLogoutStateError:  "the agent state is incorrect for sign-out",
	RetLoginInvalidParam: "invalid parameter during sign-in",
	RetWrongAgentType:    "the agent type is incorrect during sign-in",
	RetBadPhone:          "the phone number to be bound is invalid",
	RetPhoneNotInRange:   "the phone number used for sign-in is not within the configured range",
	RetForceKickDisabled: "the agent has signed in and cannot be forcibly signed out",
	RetBadIP:             "the IP address is invalid during sign-in",
	RetUPortalAuth:       "uPortal authentication failed",
	RetVDNMismatch:       "the VDN of the sign-in differs from the VDN of the voice playback",
	RetSkillQueryParam:   "invalid parameter when querying skill queues",
	RetPasswordExpired:   "the agent password has expired",
	RetSigningIn:         "the agent is signing in, do not invoke the interface again",
	RetPwdChangeFailed:   "failed to change the password",
	RetOldPasswordWrong:  "the old password is incorrect",
	RetAccountLocked:     "the account is locked",
	RetPwdSameAsOld:      "the new password is the same as the old password",
	RetPwdLikeName:       "the new password is the same as the account or its reverse",
	RetPwdRule:           "the new password does not meet the password rules",
	RetPwdLength:         "the password length must be 8 to 32 characters",
	RetQueryNoRight:      "no right to query agent information",
	RetQueryNoAgent:      "the agent does not exist",
	RetNoSkills:          "the agent does not exist or has no skills",
	RetInspectSelf:       "the agent to be inspected is the inspector",
	RetQCNoRight:         "no right to perform quality control",
	RetQCNoAgent:         "the inspected agent is not signed in",
	RetQCStateError:      "the inspected agent's state does not allow the operation",
	RetCallBadNumber:     "the outbound number is wrong",
	RetAnswerNoCall:      "answer: no call",
	RetTransferNoCall:    "transfer: no call",
	RetHoldNoCall:        "hold: no call",
	RetHoldState:         "hold: the call state is wrong",
	RetGetHoldNoHeld:     "retrieve hold: no held call",
	RetGetHoldState:      "retrieve hold: the call state is wrong",
	RetReleaseNoCall:     "release: no call",
	RetDropNoCall:        "no call can be dropped",
	RetHoldListEmpty:     "get hold list: no held call",

	// The vendor's rows for features the simulated call centre does not have
	// (phone conferences 101, recordings 104, disaster-recovery restore 105,
	// multimedia 106): known, so that a fault or a later feature sends them
	// with their meaning. English after the vendor's error-code page
	// (support.huaweicloud.com/intl/en-us/api-cec/cec_07_0580.html).
	"101-001": "the agent has no phone conference",
	"101-002": "the agent is not the chair of the current phone conference",
	"101-003": "the agent is already in the conference",
	"101-004": "a non-inspector has no permission to query VDN conferences",
	"101-005": "the chair cannot transfer the chair right to itself",
	"101-006": "the chair cannot delete itself",
	"101-007": "the chair cannot leave the conference",
	"104-001": "recording download is not enabled",
	"104-002": "the user has no inspection recording or playback permission",
	"104-003": "recording download failed: invalid file name",
	"104-004": "recording download failed: no mapped drive letter configured",
	"104-005": "recording download failed: the recording file does not exist",
	"104-006": "recording download failed: insufficient free space",
	"104-007": "the recording file format is not supported",
	"104-008": "the recording format system parameter is not configured",
	"104-009": "recording conversion failed",
	"104-010": "the locationId parameter is not configured in POOL mode",
	"104-012": "failed to download the recording file from OBS",
	"105-001": "the agent information is not cached in Redis",
	"105-002": "the agent is in disaster recovery",
	"105-003": "disaster recovery is already complete",
	"105-004": "failed to add the agent to the disaster recovery queue",
	"105-005": "waiting for disaster recovery timed out, the agent must sign in again",
	"105-006": "the disaster recovery GUID does not match, the agent must sign in again to get a GUID",
	"105-007": "disaster recovery is not enabled, the agent must sign in again",
	"106-001": "the multimedia switch is not enabled",
	"106-002": "the message to send is empty",
	"106-003": "the number of sessions exceeds the maximum of 60",
	"106-004": "the session transfer device type is invalid",
}

// Message returns the message text sent with r, or the unknown-error text for a
// retcode missing from the table.
func (r Retcode) Message() string {
	if m, ok := messages[r]; ok {
		return m
	}
	return messages[RetUnknown]
}

// Known reports whether r is a retcode ccgw can produce.
func (r Retcode) Known() bool {
	_, ok := messages[r]
	return ok
}

// Retcodes returns every retcode of the message table, sorted.
func Retcodes() []Retcode {
	rs := make([]Retcode, 0, len(messages))
	for r := range messages {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	return rs
}
