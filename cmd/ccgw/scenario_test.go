package main

import (
	"io"
	"testing"
	"time"
)

// TestParseFlagsScenario: a scenario's settings replace the flags' defaults,
// and flags given on the command line win over the scenario.
func TestParseFlagsScenario(t *testing.T) {
	const file = "../../examples/inbound-small.yaml" // seed 7, virtual, 20s, 3s, 09:00Z
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		args []string
		want SimFlags
	}{
		{"scenario", []string{"--scenario", file},
			SimFlags{Clock: "virtual", Seed: 7, RingTimeout: 20 * time.Second, CalleeAnswer: 3 * time.Second, Journal: 100000, Start: start}},
		{"flags win", []string{"--seed", "3", "--clock", "real", "--ring-timeout", "5s", "--callee-answer", "1s", "--scenario", file},
			SimFlags{Clock: "real", Seed: 3, RingTimeout: 5 * time.Second, CalleeAnswer: time.Second, Journal: 100000, Start: start}},
		{"flag set to its default wins", []string{"--scenario", file, "--seed", "1"},
			SimFlags{Clock: "virtual", Seed: 1, RingTimeout: 20 * time.Second, CalleeAnswer: 3 * time.Second, Journal: 100000, Start: start}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMain()
			if err := m.ParseFlags(tc.args, io.Discard); err != nil {
				t.Fatal(err)
			}
			if got := m.Config.Sim; got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
			if m.scenario == nil || len(m.scenario.Agents) != 6 {
				t.Fatalf("scenario not loaded: %+v", m.scenario)
			}
		})
	}
	if err := NewMain().ParseFlags([]string{"--scenario", "testdata/missing.yaml"}, io.Discard); err == nil {
		t.Fatal("missing scenario file: no error")
	}
}
