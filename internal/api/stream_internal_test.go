package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ccgw/ccgw"
)

// TestAppendStreamEvent: whatever an event's content holds, its record is
// exactly "id: n", one "data:" line of JSON that decodes to the event, and an
// empty line; content that is not JSON is a comment line, never a data line.
func TestAppendStreamEvent(t *testing.T) {
	for _, content := range []string{
		`null`, `"text"`, `{"a":1}`,
		"{\n\"callData\":\"x\"\r\n}",                     // line breaks outside strings
		`{"callData":"\n\nid: 9\ndata: {}\n\nevent: x"}`, // escaped ones inside
		`{"callData":"<script>alert(1)</script>"}`,
	} {
		ev := ccgw.Event{Type: "AgentEvent_Incoming_CallInfo", GenTime: 1, WorkNo: "1001", Content: json.RawMessage(content)}
		got := string(appendStreamEvent(nil, 7, &ev))
		lines := strings.Split(got, "\n")
		if len(lines) != 4 || lines[0] != "id: 7" || !strings.HasPrefix(lines[1], "data: ") || lines[2] != "" || lines[3] != "" ||
			strings.Contains(got, "\r") {
			t.Fatalf("content %q: record %q", content, got)
		}
		var back ccgw.Event
		if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[1], "data: ")), &back); err != nil || back.WorkNo != "1001" {
			t.Fatalf("content %q: data %q: %v", content, lines[1], err)
		}
		if strings.Contains(lines[1], "<") {
			t.Errorf("content %q: data %q holds a raw <", content, lines[1])
		}
	}
	ev := ccgw.Event{Type: "E", WorkNo: "1001", Content: json.RawMessage("{\"a\":\"x\ny\"}")} // not JSON
	if got := string(appendStreamEvent(nil, 8, &ev)); got != ": event 8 could not be encoded\n\n" {
		t.Fatalf("bad content: %q", got)
	}
}
