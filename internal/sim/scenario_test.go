package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/store/mem"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from this run")

// scenarioRig is a scenario's engine on a fake clock, wired as cmd/ccgw wires it.
type scenarioRig struct {
	clock   *clock.Virtual
	sm      *session.Service
	eng     *Engine
	journal *Journal
}

// newScenarioRig builds the directory from sc's skills and an engine with sc's
// settings (seed overridden when seed is not 0), and applies sc.
func newScenarioRig(tb testing.TB, sc *Scenario, seed uint64) *scenarioRig {
	tb.Helper()
	if seed == 0 {
		seed = sc.Seed
	}
	r := &scenarioRig{clock: clock.NewVirtual(sc.Start), journal: NewJournal(1 << 22)}
	dir := agent.Open(sc.Skills())
	var err error
	r.sm, err = session.New(session.Config{
		SessionSettings: ccgw.SessionSettings{
			Directory: dir,
			Clock:     r.clock,
			Timeout:   time.Hour,
			Tap:       r.journal.Add,
			OnChange:  func(s ccgw.Session) { r.eng.AgentChanged(s) },
		},
		Store: mem.NewShared(), Local: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	r.eng = New(Config{Sessions: r.sm, Directory: dir, Clock: r.clock, Seed: seed,
		RingTimeout: sc.RingTimeout, CalleeAnswer: sc.CalleeAnswer})
	if err := sc.Apply(r.eng); err != nil {
		tb.Fatal(err)
	}
	return r
}

// run advances the clock by d in steps.
func (r *scenarioRig) run(d, step time.Duration) {
	for t := time.Duration(0); t < d; t += step {
		r.clock.Advance(step)
	}
}

// jsonLines returns the journal's events as JSON, one a line.
func (r *scenarioRig) jsonLines(tb testing.TB) []byte {
	tb.Helper()
	evs, _ := r.journal.Since(0, 0)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, ev := range evs {
		if err := enc.Encode(ev); err != nil {
			tb.Fatal(err)
		}
	}
	return b.Bytes()
}

// live returns how many calls the engine has not ended.
func (e *Engine) live() int {
	e.lock()
	defer e.unlock()
	return len(e.calls)
}

func loadScenario(tb testing.TB, path string) *Scenario {
	tb.Helper()
	sc, err := LoadScenario(path)
	if err != nil {
		tb.Fatal(err)
	}
	return sc
}

// runScenario50 runs testdata/scenario50.yaml for two simulated hours in
// one-minute steps and returns its journal as JSON lines.
func runScenario50(t *testing.T, seed uint64) ([]byte, *scenarioRig) {
	t.Helper()
	r := newScenarioRig(t, loadScenario(t, "testdata/scenario50.yaml"), seed)
	r.run(2*time.Hour, time.Minute)
	return r.jsonLines(t), r
}

func TestScenarioGolden(t *testing.T) {
	got, r := runScenario50(t, 0)
	golden := filepath.Join("testdata", "scenario50.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("journal differs from %s at line %d:\n got  %s\n want %s\n(run with -update if the change is intended)", golden, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("journal has %d lines, %s has %d (run with -update if the change is intended)", len(gl), golden, len(wl))
	}

	// The run did what the scenario says: every queue answered calls, the
	// understaffed one lost some, the campaign placed and failed calls, and
	// after the arrivals stopped every call was over.
	for _, q := range r.eng.Queues() {
		if q.Answered == 0 || q.Waiting != 0 {
			t.Errorf("queue %d: %+v", q.Skill, q)
		}
	}
	if q := r.eng.Queue(3); q.Abandoned == 0 {
		t.Errorf("queue 3 had no abandoned calls: %+v", q)
	}
	counts := map[string]int{}
	evs, _ := r.journal.Since(0, 0)
	for _, ev := range evs {
		counts[ev.Type]++
	}
	for _, typ := range []string{ccgw.EvInService, ccgw.EvAutoAnswer, ccgw.EvRinging, ccgw.EvTalking,
		ccgw.EvCustomerRelease, ccgw.EvWork, ccgw.EvReady, ccgw.EvCallOutFail, ccgw.EvCustomerAlerting} {
		if counts[typ] == 0 {
			t.Errorf("no %s in the journal", typ)
		}
	}
	if n := counts[ccgw.EvInService]; n != 50 {
		t.Errorf("%d agents signed in, want 50", n)
	}
	if r.eng.live() != 0 {
		t.Errorf("%d calls still live after the arrivals stopped", r.eng.live())
	}
}

func TestScenarioSameSeedSameJournal(t *testing.T) {
	a, _ := runScenario50(t, 0)
	b, _ := runScenario50(t, 0)
	if !bytes.Equal(a, b) {
		t.Fatal("two runs with the same seed gave different journals")
	}
	c, _ := runScenario50(t, 7)
	if bytes.Equal(a, c) {
		t.Fatal("seeds 42 and 7 gave the same journal")
	}
}

func TestScenarioDefaults(t *testing.T) {
	sc, err := ParseScenario([]byte("skills: [{id: 4, name: Chat, mediatype: 51}, {id: 5, name: Voice}]\n" +
		"agents: [{workNo: \"1003-1001\"}]\n"))
	if err == nil || !strings.Contains(err.Error(), "agents[0].workNo") {
		t.Fatalf("backwards range: %v", err)
	}
	sc, err = ParseScenario([]byte("skills: [{id: 4, name: Chat, mediatype: 51}, {id: 5, name: Voice}]\n" +
		"agents: [{workNo: 1003}, {workNo: \"1001-1002\", skills: []}, {workNo: \"1010\", skills: [5]}]\n" +
		"arrivals: [{skill: 5, perHour: 10, talkMin: 30s}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Seed != 0 || !sc.Start.Equal(DefaultStart()) || sc.Clock != "virtual" || sc.RingTimeout != 0 || sc.Duration != 0 {
		t.Fatalf("defaults: %+v", sc)
	}
	want := []ccgw.Skill{{ID: 4, Name: "Chat", MediaType: 51}, {ID: 5, Name: "Voice", MediaType: 5}}
	if got := sc.Skills(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("skills %+v", got)
	}
	var ids []ccgw.AgentID
	for _, a := range sc.Agents {
		ids = append(ids, a.ID)
	}
	if !sort.SliceIsSorted(ids, func(i, j int) bool { return ids[i] < ids[j] }) || len(ids) != 4 || ids[0] != 1001 || ids[3] != 1010 {
		t.Fatalf("agents %v", ids)
	}
	if sc.Agents[0].Skills == nil || len(sc.Agents[0].Skills) != 0 {
		t.Fatalf("skills: [] gave %#v, want empty", sc.Agents[0].Skills)
	}
	if sc.Agents[2].Skills != nil {
		t.Fatalf("no skills gave %#v, want nil (every skill)", sc.Agents[2].Skills)
	}
	if r := sc.Arrivals[0].Rate; r.TalkMax != 30*time.Second {
		t.Fatalf("talkMax defaults to talkMin: %+v", r)
	}
}

func TestLoadScenarioErrors(t *testing.T) {
	const skills = "skills: [{id: 1, name: Sales}]\n"
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"no skills", "seed: 1\n", "skills"},
		{"empty file", "", "skills"},
		{"unknown field", skills + "agnets: []\n", "agnets"},
		{"seed not a number", skills + "seed: abc\n", "uint64"},
		{"start", skills + "start: monday\n", "start"},
		{"clock", skills + "clock: fast\n", "clock"},
		{"ring timeout", skills + "ringTimeout: 20\n", "ringTimeout"},
		{"callee answer negative", skills + "calleeAnswer: -1s\n", "calleeAnswer"},
		{"duration", skills + "duration: forever\n", "duration"},
		{"skill id", "skills: [{id: 0, name: X}]\n", "skills[0].id"},
		{"skill twice", "skills: [{id: 1, name: X}, {id: 1, name: Y}]\n", "skills[1].id"},
		{"skill name", "skills: [{id: 1}]\n", "skills[0].name"},
		{"skill mediatype", "skills: [{id: 1, name: X, mediatype: -5}]\n", "skills[0].mediatype"},
		{"work number", skills + "agents: [{workNo: \"abc\"}]\n", "agents[0].workNo"},
		{"work number too small", skills + "agents: [{workNo: \"100\"}]\n", "agents[0].workNo"},
		{"range backwards", skills + "agents: [{workNo: \"1050-1001\"}]\n", "agents[0].workNo"},
		{"range too big", skills + "agents: [{workNo: \"101-999999\"}]\n", "agents[0].workNo"},
		{"agent twice", skills + "agents: [{workNo: \"1001-1010\"}, {workNo: \"1005\"}]\n", "agents[1].workNo"},
		{"agent skill", skills + "agents: [{workNo: \"1001\", skills: [1, 9]}]\n", "agents[0].skills[1]"},
		{"answer after", skills + "agents: [{workNo: \"1001\", answerAfter: soon}]\n", "agents[0].answerAfter"},
		{"wrap up", skills + "agents: [{workNo: \"1001\", wrapUp: -3s}]\n", "agents[0].wrapUp"},
		{"arrival skill", skills + "arrivals: [{skill: 2, perHour: 10, talkMin: 1m}]\n", "arrivals[0].skill"},
		{"arrival twice", skills + "arrivals: [{skill: 1, perHour: 10, talkMin: 1m}, {skill: 1, perHour: 5, talkMin: 1m}]\n", "arrivals[1].skill"},
		{"per hour", skills + "arrivals: [{skill: 1, perHour: 0, talkMin: 1m}]\n", "arrivals[0].perHour"},
		{"per hour NaN", skills + "arrivals: [{skill: 1, perHour: .nan, talkMin: 1m}]\n", "arrivals[0].perHour"},
		{"per hour infinite", skills + "arrivals: [{skill: 1, perHour: .inf, talkMin: 1m}]\n", "arrivals[0].perHour"},
		{"per hour 1e308", skills + "arrivals: [{skill: 1, perHour: 1e308, talkMin: 1m}]\n", "arrivals[0].perHour"},
		{"per hour above the cap", skills + "arrivals: [{skill: 1, perHour: 360001, talkMin: 1m}]\n", "arrivals[0].perHour"},
		{"per hour below the least", skills + "arrivals: [{skill: 1, perHour: 0.0001, talkMin: 1m}]\n", "arrivals[0].perHour"},
		{"talk min", skills + "arrivals: [{skill: 1, perHour: 10}]\n", "arrivals[0].talkMin"},
		{"talk max", skills + "arrivals: [{skill: 1, perHour: 10, talkMin: 2m, talkMax: 1m}]\n", "arrivals[0].talkMax"},
		{"abandon", skills + "arrivals: [{skill: 1, perHour: 10, talkMin: 1m, abandonAfter: x}]\n", "arrivals[0].abandonAfter"},
		{"call at", skills + "calls: [{at: 5, skill: 1}]\n", "calls[0].at"},
		{"call skill", skills + "calls: [{at: 5s, skill: 3}]\n", "calls[0].skill"},
		{"call caller", skills + "calls: [{at: 5s, skill: 1, caller: \"+44 20\"}]\n", "calls[0].caller"},
		{"call talk", skills + "calls: [{at: 5s, skill: 1, talk: 1x}]\n", "calls[0].talk"},
		{"outbound agent unknown", skills + "agents: [{workNo: \"1001\"}]\noutbound: [{at: 1s, agent: \"1002\", called: \"123\", talk: 1m}]\n", "outbound[0].agent"},
		{"outbound agent", skills + "outbound: [{at: 1s, agent: \"x\", called: \"123\", talk: 1m}]\n", "outbound[0].agent"},
		{"outbound called", skills + "agents: [{workNo: \"1001\"}]\noutbound: [{at: 1s, agent: \"1001\", talk: 1m}]\n", "outbound[0].called"},
		{"outbound talk", skills + "agents: [{workNo: \"1001\"}]\noutbound: [{at: 1s, agent: \"1001\", called: \"123\"}]\n", "outbound[0].talk"},
		{"outbound at", skills + "agents: [{workNo: \"1001\"}]\noutbound: [{at: -1s, agent: \"1001\", called: \"123\", talk: 1m}]\n", "outbound[0].at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadScenario(path)
			if err == nil {
				t.Fatalf("no error, want one naming %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name %q and the file", err, tc.want)
			}
		})
	}
	if _, err := LoadScenario(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("missing file: no error")
	}
}

// TestScenarioApplyChecks covers what only the engine can check.
func TestScenarioApplyChecks(t *testing.T) {
	sc, err := ParseScenario([]byte("skills: [{id: 1, name: S}]\nagents: [{workNo: \"1001\", answerAfter: 30s}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := newTestRig(t) // ring timeout 10s
	if err := sc.Apply(r.eng); err == nil || !strings.Contains(err.Error(), "ring timeout") {
		t.Fatalf("answerAfter beyond the ring timeout: %v", err)
	}
	sc, err = ParseScenario([]byte("skills: [{id: 7, name: S}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Apply(r.eng); err == nil || !strings.Contains(err.Error(), "skill 7") {
		t.Fatalf("skill outside the directory: %v", err)
	}
}

// TestScenarioApplyLeavesSignedInAgents: a scenario agent whose work number a
// client holds (say, restored at start) is left to the client, logged, and
// the scenario's other agents are simulated.
func TestScenarioApplyLeavesSignedInAgents(t *testing.T) {
	sc, err := ParseScenario([]byte("skills: [{id: 1, name: S}]\nagents: [{workNo: \"1001-1003\"}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := newTestRig(t)
	client := r.signIn(t, 1002, false)
	var log bytes.Buffer
	r.eng.cfg.Log = slog.New(slog.NewTextHandler(&log, nil))
	if err := sc.Apply(r.eng); err != nil {
		t.Fatalf("Apply with 1002 signed in by a client: %v", err)
	}
	if s, ok := r.sm.Lookup(context.Background(), 1002); !ok || s.GUID != client.GUID || s.Simulated {
		t.Fatalf("1002 after Apply: %+v, want the client's session", s)
	}
	for _, id := range []ccgw.AgentID{1001, 1003} {
		if s, ok := r.sm.Lookup(context.Background(), id); !ok || !s.Simulated {
			t.Errorf("%s after Apply: %+v (ok %v), want simulated", id, s, ok)
		}
	}
	if !strings.Contains(log.String(), `msg="scenario agent not simulated: the work number is signed in" agent=1002`) {
		t.Errorf("no log line for 1002:\n%s", log.String())
	}
}

// TestScenarioOutboundWaitsForAgent: a campaign call due while its agent talks
// is placed once the agent is idle again.
func TestScenarioOutboundWaitsForAgent(t *testing.T) {
	sc, err := ParseScenario([]byte(`
skills: [{id: 1, name: S}]
agents: [{workNo: "1001"}]
calls: [{at: 0s, skill: 1, talk: 30s}]
outbound: [{at: 10s, agent: "1001", called: "123456", talk: 20s}, {at: 11s, agent: "1001", called: "999123", talk: 20s}]
`))
	if err != nil {
		t.Fatal(err)
	}
	r := newScenarioRig(t, sc, 0)
	r.run(2*time.Minute, time.Second)
	var got []string
	evs, _ := r.journal.Since(0, 0)
	for _, ev := range evs {
		switch ev.Type {
		case ccgw.EvTalking, ccgw.EvCallOutFail, ccgw.EvCustomerRelease:
			got = append(got, ev.Type+"@"+time.UnixMilli(ev.GenTime).Sub(sc.Start).String())
		}
	}
	// inbound talks 0–30s; the first callout rings 30–33s (calleeAnswer 3s) and
	// talks 33–53s; the second, retried every 5s from 11s, finds the agent idle
	// at 56s and fails after 3s of ringing.
	want := []string{
		ccgw.EvTalking + "@0s", ccgw.EvCustomerRelease + "@30s",
		ccgw.EvTalking + "@33s", ccgw.EvCustomerRelease + "@53s",
		ccgw.EvCallOutFail + "@59s",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

// TestIdleIndexMatchesScan runs scenarios with the idle index and with a scan
// of Sessions.BySkill per call: the journals must be the same.
func TestIdleIndexMatchesScan(t *testing.T) {
	for _, tc := range []struct {
		file string
		seed uint64
	}{
		{"testdata/scenario50.yaml", 0},
		{"testdata/scenario50.yaml", 99},
		{"../../examples/busy-hour.yaml", 0},
		{"../../examples/outbound-campaign.yaml", 0},
	} {
		sc := loadScenario(t, tc.file)
		var got [2][]byte
		for i, scan := range []bool{false, true} {
			r := newScenarioRig(t, sc, tc.seed)
			r.eng.scanOnly = scan
			r.run(90*time.Minute, time.Minute)
			got[i] = r.jsonLines(t)
		}
		if !bytes.Equal(got[0], got[1]) {
			t.Errorf("%s seed %d: the idle index and the scan routed differently", tc.file, tc.seed)
		}
	}
}

// TestExamples runs every scenario in examples/ for an hour.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			sc := loadScenario(t, f)
			r := newScenarioRig(t, sc, 0)
			r.run(time.Hour, time.Minute)
			n := 0
			for _, q := range r.eng.Queues() {
				n += q.Answered
			}
			if n == 0 {
				t.Fatalf("no call answered in an hour: %+v", r.eng.Queues())
			}
		})
	}
}
