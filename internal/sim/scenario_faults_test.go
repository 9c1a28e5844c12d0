package sim

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/faults"
)

const faultSkills = "skills: [{id: 1, name: Sales}]\n"

// TestScenarioFaults: a scenario's faults key is read into timed fault specs,
// and AddFaults holds them from the scenario's start plus their at.
func TestScenarioFaults(t *testing.T) {
	sc, err := ParseScenario([]byte(faultSkills + `faults:
  - {at: 30s, kind: dr-switchover, agents: ["1002", "1001"], interfaces: [handShake, getAgentEvent], duration: 20s}
  - {at: 1m, kind: slow, delay: 2s}
  - {kind: drop-events, agents: ["1001"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Faults) != 3 {
		t.Fatalf("faults %+v", sc.Faults)
	}
	f0 := sc.Faults[0]
	if f0.At != 30*time.Second || f0.Spec.Kind != faults.DRSwitchover || !slices.Equal(f0.Spec.Agents, []ccgw.AgentID{1001, 1002}) ||
		!slices.Equal(f0.Spec.Interfaces, []string{"handShake", "getAgentEvent"}) || f0.Spec.Duration != 20*time.Second {
		t.Errorf("faults[0] %+v", f0)
	}
	if f := sc.Faults[1]; f.At != time.Minute || f.Spec.Delay != 2*time.Second {
		t.Errorf("faults[1] %+v", f)
	}
	fc := clock.NewVirtual(DefaultStart())
	fs := faults.New(faults.Config{Clock: fc, Interfaces: []string{"handShake", "getAgentEvent"}, DropEvents: true})
	if err := sc.AddFaults(fs, fc.Now()); err != nil {
		t.Fatal(err)
	}
	list := fs.List()
	if len(list) != 3 || !list[0].Start.Equal(DefaultStart().Add(30*time.Second)) || !list[2].Start.Equal(DefaultStart()) {
		t.Fatalf("held %+v", list)
	}
	fc.Advance(30 * time.Second)
	if e := fs.Check(1001, "handShake"); e.Code != ccgw.RetSwitchingOver {
		t.Errorf("at 30s: %+v", e)
	}
}

// TestScenarioFaultErrors: every error names the entry and its field.
func TestScenarioFaultErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "faults: [{kind: slow, delay: 1s, colour: red}]\n", "colour"},
		{"no kind", "faults: [{at: 1s}]\n", "faults[0].kind"},
		{"kind", "faults: [{kind: meltdown}]\n", "faults[0].kind"},
		{"at", "faults: [{at: soon, kind: unavailable}]\n", "faults[0].at"},
		{"at negative", "faults: [{at: -1s, kind: unavailable}]\n", "faults[0].at"},
		{"duration", "faults: [{kind: unavailable, duration: 25h}]\n", "faults[0].duration"},
		{"delay missing", "faults: [{kind: unavailable}, {kind: slow}]\n", "faults[1].delay"},
		{"delay of another kind", "faults: [{kind: unavailable, delay: 1s}]\n", "faults[0].delay"},
		{"agent", "faults: [{kind: unavailable, agents: [\"1001\", \"x\"]}]\n", "faults[0].agents[1]"},
		{"interfaces of drop-events", "faults: [{kind: drop-events, interfaces: [getAgentEvent]}]\n", "faults[0].interfaces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(faultSkills + tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
	sc, err := ParseScenario([]byte(faultSkills + "faults: [{kind: unavailable}, {kind: unavailable, interfaces: [handShake, handshake]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	fs := faults.New(faults.Config{Clock: clock.NewVirtual(DefaultStart()), Interfaces: []string{"handShake"}})
	err = sc.AddFaults(fs, DefaultStart())
	if err == nil || !strings.HasPrefix(err.Error(), `scenario: faults[1].interfaces[1]: "handshake" is not an interface`) {
		t.Fatalf("AddFaults: %v", err)
	}
}
