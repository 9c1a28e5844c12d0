package push

import "testing"

func TestTrustlist(t *testing.T) {
	tl := ParseTrustlist(" https://crm.example.com/cb/event ; http://10.0.0.5:8080/aPortal/resource/eventreceiver/event;https://hooks.example.com/ccgw/* ;")
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"https://crm.example.com/cb/event", true},
		{"HTTPS://CRM.Example.com/cb/event", true},       // scheme and host in any case
		{"https://crm.example.com/cb/event?x=1", true},   // query left out
		{"https://crm.example.com/cb/event#f", true},     // fragment too
		{"https://crm.example.com/cb/Event", false},      // the path's case counts
		{"https://crm.example.com/cb/event/more", false}, // a full URL, not a prefix
		{"https://crm.example.com:444/cb/event", false},  // another port
		{"http://crm.example.com/cb/event", false},       // another scheme
		{"http://10.0.0.5:8080/aPortal/resource/eventreceiver/event?token=abc", true},
		{"https://hooks.example.com/ccgw/agent/1001", true}, // "*" entries are prefixes
		{"https://hooks.example.com/other", false},
		{"https://evil.example.com/?https://crm.example.com/cb/event", false},
		{"https://user@crm.example.com/cb/event", false},
	} {
		if got := tl.Allows(tc.url); got != tc.want {
			t.Errorf("Allows(%q) = %v, want %v", tc.url, got, tc.want)
		}
	}
	var none Trustlist
	if !none.Allows("http://anything/") || !ParseTrustlist(" ; ").Empty() {
		t.Error("an empty trustlist must allow any URL")
	}
}
