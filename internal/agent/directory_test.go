package agent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ccgw/ccgw"
)

// tFile is a valid --agents file: 1001 (inspector, skills 1 and 2), 1002 (skill
// 1), 1003 (no skills).
const tFile = `{
	"skills": [
		{"id": 1, "name": "Sales", "mediatype": 5},
		{"id": 2, "name": "Chat", "mediatype": 51}
	],
	"agents": [
		{"workNo": "1001", "name": "Alexandra", "password": "S3cret!pw", "phone": "70001", "groupId": 7, "skills": [1, 2], "inspector": true},
		{"workNo": "1002", "name": "Bob", "password": "B0b!secret", "phone": "70002", "groupId": 7, "skills": [1]},
		{"workNo": "1003", "name": "Carol", "password": "C4rol!pw", "phone": "70003", "groupId": 8}
	]
}`

func tDecode(tb testing.TB, text string) File {
	tb.Helper()
	var f File
	if err := json.Unmarshal([]byte(text), &f); err != nil {
		tb.Fatalf("decoding agents file: %v", err)
	}
	return f
}

// tFileDirectory returns the directory of tFile.
func tFileDirectory(tb testing.TB) *Directory {
	tb.Helper()
	d, err := FromFile(tDecode(tb, tFile))
	if err != nil {
		tb.Fatalf("FromFile: %v", err)
	}
	return d
}

// TestFromFileRejects has one row per kind of bad --agents file; each must be
// refused with an error that names the problem.
func TestFromFileRejects(t *testing.T) {
	const skills = `"skills": [{"id": 1, "name": "Sales", "mediatype": 5}]`
	agent := func(workNo, password, skills string) string {
		return `{"workNo": "` + workNo + `", "name": "A", "password": "` + password + `", "skills": [` + skills + `]}`
	}
	file := func(agents ...string) string {
		return `{` + skills + `, "agents": [` + strings.Join(agents, ",") + `]}`
	}
	tests := []struct {
		name string
		file string
		want string // in the error text
	}{
		{"unknown skill", file(agent("1001", "pw", "1, 2")), "unknown skill 2"},
		{"skill of an empty list", `{"agents": [` + agent("1001", "pw", "1") + `]}`, "unknown skill 1"},
		{"duplicate agent", file(agent("1001", "pw", "1"), agent("1002", "pw", ""), agent("1001", "other", "")), "listed twice"},
		{"duplicate agent, leading zeros", file(agent("1001", "pw", ""), agent("001001", "pw", "")), "listed twice"},
		{"work number not digits", file(agent("abc", "pw", "")), `"abc"`},
		{"work number below 101", file(agent("100", "pw", "")), `"100"`},
		{"work number above 999999", file(agent("1000000", "pw", "")), `"1000000"`},
		{"work number negative", file(agent("-101", "pw", "")), `"-101"`},
		{"work number with space", file(agent("10 1", "pw", "")), `"10 1"`},
		{"work number empty", file(agent("", "pw", "")), `""`},
		{"no password", file(agent("1001", "", "1")), "no password"},
		{"no password field", file(`{"workNo": "1001", "name": "A", "skills": [1]}`), "no password"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := FromFile(tDecode(t, tc.file))
			if err == nil {
				t.Fatalf("FromFile accepted it: %v", d)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestFromFileAccepts checks a valid file: the work-number range ends, an agent
// with no skills, and every field carried over.
func TestFromFileAccepts(t *testing.T) {
	d, err := FromFile(tDecode(t, `{"agents": [
		{"workNo": "101", "password": "x"},
		{"workNo": "999999", "password": "y"}
	]}`))
	if err != nil {
		t.Fatalf("FromFile: %v", err)
	}
	for _, id := range []ccgw.AgentID{101, 999999} {
		if _, ok := d.Agent(id); !ok {
			t.Errorf("agent %d missing", id)
		}
	}

	d = tFileDirectory(t)
	a, ok := d.Agent(1001)
	if !ok {
		t.Fatal("agent 1001 missing")
	}
	want := ccgw.Agent{
		ID: 1001, Name: "Alexandra", Password: "S3cret!pw", Phone: "70001", GroupID: 7, Inspector: true,
		Skills: []ccgw.Skill{{ID: 1, Name: "Sales", MediaType: 5}, {ID: 2, Name: "Chat", MediaType: 51}},
	}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("agent 1001\n got %+v\nwant %+v", a, want)
	}
	if a, _ := d.Agent(1002); a.Inspector {
		t.Error("agent 1002 is an inspector; the file does not say so")
	}
	if a, _ := d.Agent(1003); len(a.Skills) != 0 {
		t.Errorf("agent 1003 has skills %v, want none", a.Skills)
	}
}

// TestFileDirectory checks who exists and which password signs in with a file
// directory: only the listed agents, each with its own password.
func TestFileDirectory(t *testing.T) {
	d := tFileDirectory(t)
	for _, id := range []ccgw.AgentID{100, 101, 1004, 999999, 1000000} {
		if _, ok := d.Agent(id); ok {
			t.Errorf("agent %d exists; the file does not list it", id)
		}
	}
	tests := []struct {
		id   ccgw.AgentID
		pw   string
		want bool
	}{
		{1001, "S3cret!pw", true},
		{1001, "s3cret!pw", false},
		{1001, "S3cret!pw ", false},
		{1001, "", false},
		{1001, "B0b!secret", false}, // another agent's
		{1002, "B0b!secret", true},
		{1004, "S3cret!pw", false}, // not listed
		{100, "S3cret!pw", false},  // out of range
	}
	for _, tc := range tests {
		if got := d.CheckPassword(tc.id, tc.pw); got != tc.want {
			t.Errorf("CheckPassword(%d, %q) = %v, want %v", tc.id, tc.pw, got, tc.want)
		}
	}

	var ids []int
	for _, s := range d.Skills() {
		ids = append(ids, s.ID)
	}
	sort.Ints(ids)
	if !reflect.DeepEqual(ids, []int{1, 2}) {
		t.Errorf("Skills() ids %v, want [1 2]", ids)
	}
	if s, ok := d.Skill(2); !ok || s != (ccgw.Skill{ID: 2, Name: "Chat", MediaType: 51}) {
		t.Errorf("Skill(2) = %+v, %v", s, ok)
	}
	if _, ok := d.Skill(9); ok {
		t.Error("Skill(9) found")
	}
}

// TestDefaultDirectory checks the built-in directory (README "Flags", --agents):
// every work number 101–999999 exists with the default skills and phone, is no
// inspector, and signs in with any password, the empty one included.
func TestDefaultDirectory(t *testing.T) {
	d := Default()
	for _, id := range []ccgw.AgentID{101, 1001, 999999} {
		a, ok := d.Agent(id)
		if !ok {
			t.Fatalf("agent %d missing", id)
		}
		want := ccgw.Agent{ID: id, Name: "agent" + id.String(), Phone: "7" + id.String(), GroupID: 1, Skills: DefaultSkills}
		if !reflect.DeepEqual(a, want) {
			t.Errorf("agent %d\n got %+v\nwant %+v", id, a, want)
		}
		for _, pw := range []string{"x", "secret", " ", "", strings.Repeat("p", 100)} {
			if !d.CheckPassword(id, pw) {
				t.Errorf("CheckPassword(%d, %q) = false, want true", id, pw)
			}
		}
	}
	for _, id := range []ccgw.AgentID{0, 100, 1000000} {
		if _, ok := d.Agent(id); ok {
			t.Errorf("agent %d exists, out of range", id)
		}
		if d.CheckPassword(id, "x") || d.CheckPassword(id, "") {
			t.Errorf("CheckPassword(%d) = true, out of range", id)
		}
	}
	if !reflect.DeepEqual(d.Skills(), DefaultSkills) {
		t.Errorf("Skills() = %v, want %v", d.Skills(), DefaultSkills)
	}
}

// TestInspectors: no agent of the built-in directory is an inspector unless
// AddInspectors (--inspectors) names it; in a file directory the file's
// "inspector": true and AddInspectors both make one.
func TestInspectors(t *testing.T) {
	r, err := ParseRanges("1001, 2000-2002,3000")
	if err != nil {
		t.Fatal(err)
	}
	open := Default()
	open.AddInspectors(r)
	file := tFileDirectory(t)
	file.AddInspectors(r)
	for _, tc := range []struct {
		d    *Directory
		id   ccgw.AgentID
		want bool
	}{
		{Default(), 1001, false},
		{Default(), 101, false},
		{open, 1001, true},
		{open, 1002, false},
		{open, 1999, false},
		{open, 2000, true},
		{open, 2001, true},
		{open, 2002, true},
		{open, 2003, false},
		{open, 3000, true},
		{tFileDirectory(t), 1001, true}, // "inspector": true in the file
		{tFileDirectory(t), 1002, false},
		{file, 1002, false},
		{file, 1001, true},
	} {
		if a, _ := tc.d.Agent(tc.id); a.Inspector != tc.want {
			t.Errorf("agent %d inspector = %v, want %v", tc.id, a.Inspector, tc.want)
		}
	}
	if _, ok := file.Agent(2000); ok {
		t.Error("--inspectors added an agent to a file directory")
	}
}

// TestParseRanges has a row per form of --inspectors.
func TestParseRanges(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ranges
		err  bool
	}{
		{in: "", want: nil},
		{in: " , ", want: nil},
		{in: "1001", want: Ranges{{1001, 1001}}},
		{in: "1001,1002-1010", want: Ranges{{1001, 1001}, {1002, 1010}}},
		{in: " 101 - 999999 ", want: Ranges{{101, 999999}}},
		{in: "1010-1002", err: true},
		{in: "100", err: true},
		{in: "1000000", err: true},
		{in: "1001-", err: true},
		{in: "abc", err: true},
		{in: "1001;1002", err: true},
		{in: "1001-1002-1003", err: true},
	} {
		got, err := ParseRanges(tc.in)
		if (err != nil) != tc.err || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseRanges(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestChangeThenCheckPassword checks ChangePassword then CheckPassword on both
// kinds of directory, and SetPassword.
func TestChangeThenCheckPassword(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    *Directory
		old  string
	}{
		{"file", tFileDirectory(t), "S3cret!pw"},
		{"default", Default(), "whatever"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.d.ChangePassword(context.Background(), 1001, tc.old, "N3w!Passw"); err != nil {
				t.Fatalf("ChangePassword: %v", err)
			}
			if tc.d.CheckPassword(1001, tc.old) {
				t.Error("the old password still signs in")
			}
			if !tc.d.CheckPassword(1001, "N3w!Passw") {
				t.Error("the new password does not sign in")
			}
			if err := tc.d.SetPassword(1001, "Set!by-admin1"); err != nil {
				t.Fatalf("SetPassword: %v", err)
			}
			if !tc.d.CheckPassword(1001, "Set!by-admin1") || tc.d.CheckPassword(1001, "N3w!Passw") {
				t.Error("SetPassword did not replace the password")
			}
		})
	}
	if err := tFileDirectory(t).SetPassword(1999, "x"); ccgw.CodeOf(err) != ccgw.RetQueryNoAgent {
		t.Errorf("SetPassword of an unknown agent: %v, want 300-002", err)
	}
}

// TestLoad reads --agents files from disk.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	d, err := Load(write("ok.json", tFile))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !d.CheckPassword(1002, "B0b!secret") {
		t.Error("loaded directory does not know agent 1002's password")
	}
	for name, text := range map[string]string{
		"notjson.json":   `{"agents": [`,
		"wrongtype.json": `{"agents": {"workNo": "1001"}}`,
		"nopw.json":      `{"agents": [{"workNo": "1001"}]}`,
	} {
		if _, err := Load(write(name, text)); err == nil {
			t.Errorf("Load(%s) accepted %s", name, text)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}
