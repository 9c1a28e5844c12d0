package ccgw

import (
	"regexp"
	"slices"
	"testing"
)

// TestRetcodeTable checks that every row of the vendor's error-code page that
// ccgw lists is known with a message of its own, and that every retcode in the
// table has the wire shape.
func TestRetcodeTable(t *testing.T) {
	vendor := []Retcode{"000-001", "000-002", "000-003", "000-004", "000-005", "000-006", "000-007",
		"100-001", "100-002", "100-003", "100-004", "100-005", "100-006", "100-007", "100-008", "100-009",
		"100-010", "100-011", "100-012", "100-013", "100-014", "100-015", "100-016", "100-017", "100-018",
		"100-019", "100-020", "100-021", "110-016",
		"101-001", "101-002", "101-003", "101-004", "101-005", "101-006", "101-007",
		"104-001", "104-002", "104-003", "104-004", "104-005", "104-006", "104-007", "104-008", "104-009",
		"104-010", "104-012",
		"105-001", "105-002", "105-003", "105-004", "105-005", "105-006", "105-007",
		"106-001", "106-002", "106-003", "106-004"}
	for _, c := range vendor {
		if !c.Known() || c.Message() == RetUnknown.Message() || c.Message() == "" {
			t.Errorf("%s: known %v, message %q", c, c.Known(), c.Message())
		}
	}
	shape := regexp.MustCompile(`^(0|\d{3}-\d{3})$`)
	seen := map[string]Retcode{}
	for c, m := range messages {
		if !shape.MatchString(string(c)) {
			t.Errorf("retcode %q is not of the wire shape", c)
		}
		if o, dup := seen[m]; dup && c != RetUnknown && o != RetUnknown {
			t.Errorf("%s and %s share the message %q", c, o, m)
		}
		seen[m] = c
	}
	if Retcode("999-999").Known() || Retcode("999-999").Message() != RetUnknown.Message() {
		t.Error("an unknown retcode must not be Known and must carry the unknown-error text")
	}
}

func TestRetcodesListsTheTable(t *testing.T) {
	rs := Retcodes()
	if len(rs) != len(messages) || !slices.IsSorted(rs) {
		t.Fatalf("Retcodes() = %d codes, sorted %v; the table has %d", len(rs), slices.IsSorted(rs), len(messages))
	}
	for _, r := range rs {
		if !r.Known() {
			t.Errorf("%s listed but not known", r)
		}
	}
}
