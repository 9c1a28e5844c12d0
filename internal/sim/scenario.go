package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ccgw/ccgw"
	"go.yaml.in/yaml/v3"
)

// DefaultStart returns where a scenario's virtual clock starts unless it says
// otherwise: 2026-01-05T09:00:00Z, a Monday morning.
func DefaultStart() time.Time { return time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC) }

// MaxScenarioAgents bounds the simulated agents of one scenario.
const MaxScenarioAgents = 100000

// outboundRetry is how often a scenario's outbound call waits for its agent to
// be idle again.
const outboundRetry = 5 * time.Second

// Scenario is a simulated call centre read from a YAML file (LoadScenario): its
// skills, simulated agents, random arrivals per skill, and timed inbound and
// outbound calls. Apply sets it up on an Engine; the command line takes Seed,
// Start, Clock, RingTimeout and CalleeAnswer for its flags' defaults.
type Scenario struct {
	Seed         uint64          // seed of the engine's randomness; 0: not given
	Start        time.Time       // where a virtual clock starts; DefaultStart()
	Clock        string          // "virtual" (default) or "real"
	RingTimeout  time.Duration   // the engine's RingTimeout; 0: not given
	CalleeAnswer time.Duration   // the engine's CalleeAnswer; 0: not given
	Agents       []ScenarioAgent // simulated agents, by work number
	Arrivals     []Arrival       // random arrivals, in file order
	Calls        []TimedCall     // timed inbound calls, in file order
	Outbound     []TimedCallout  // timed outbound calls (a campaign), in file order
	Faults       []TimedFault    // faults on demand, in file order (AddFaults)
	Duration     time.Duration   // arrivals stop after this; 0: never

	skills []ccgw.Skill
}

// ScenarioAgent is one simulated agent of a scenario.
type ScenarioAgent struct {
	ID          ccgw.AgentID
	Skills      []int // nil: every skill of the directory; empty: none (outbound only)
	AnswerAfter time.Duration
	WrapUp      time.Duration
}

// Arrival is a skill's random (Poisson) call arrivals.
type Arrival struct {
	Skill int
	Rate  Rate
}

// TimedCall is an inbound call placed At after the scenario starts.
type TimedCall struct {
	At   time.Duration
	Call CallSpec
}

// TimedCallout is an outbound call that simulated agent Agent places At after
// the scenario starts, or as soon after as it is idle with no call. A Called
// number starting with FailingPrefix fails.
type TimedCallout struct {
	At     time.Duration
	Agent  ccgw.AgentID
	Called string
	Talk   time.Duration
}

// scenarioFile is the YAML form of a scenario, before validation.
type scenarioFile struct {
	Seed         uint64 `yaml:"seed"`
	Start        string `yaml:"start"`
	Clock        string `yaml:"clock"`
	RingTimeout  string `yaml:"ringTimeout"`
	CalleeAnswer string `yaml:"calleeAnswer"`
	Duration     string `yaml:"duration"`
	Skills       []struct {
		ID        int    `yaml:"id"`
		Name      string `yaml:"name"`
		MediaType int    `yaml:"mediatype"`
	} `yaml:"skills"`
	Agents []struct {
		WorkNo      string `yaml:"workNo"`
		Skills      []int  `yaml:"skills"`
		AnswerAfter string `yaml:"answerAfter"`
		WrapUp      string `yaml:"wrapUp"`
	} `yaml:"agents"`
	Arrivals []struct {
		Skill        int     `yaml:"skill"`
		PerHour      float64 `yaml:"perHour"`
		TalkMin      string  `yaml:"talkMin"`
		TalkMax      string  `yaml:"talkMax"`
		AbandonAfter string  `yaml:"abandonAfter"`
	} `yaml:"arrivals"`
	Calls []struct {
		At           string `yaml:"at"`
		Skill        int    `yaml:"skill"`
		Caller       string `yaml:"caller"`
		Talk         string `yaml:"talk"`
		AbandonAfter string `yaml:"abandonAfter"`
		CallData     string `yaml:"callData"`
	} `yaml:"calls"`
	Outbound []struct {
		At     string `yaml:"at"`
		Agent  string `yaml:"agent"`
		Called string `yaml:"called"`
		Talk   string `yaml:"talk"`
	} `yaml:"outbound"`
	Faults []scenarioFault `yaml:"faults"`
}

// LoadScenario reads and validates the scenario file at path. Its errors name
// the file and the offending field, e.g. `agents[2].wrapUp`.
func LoadScenario(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	sc, err := ParseScenario(b)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	return sc, nil
}

// ParseScenario decodes and validates a scenario from its YAML text. Unknown
// fields are errors.
func ParseScenario(b []byte) (*Scenario, error) {
	var f scenarioFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return f.scenario()
}

// fieldErr is a validation error about one field.
func fieldErr(field, format string, a ...any) error {
	return fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...))
}

// duration parses an optional duration field ("" is 0); negative ones are errors.
func duration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fieldErr(field, "%q is not a duration like 20s or 1m30s", s)
	}
	if d < 0 {
		return 0, fieldErr(field, "%q is negative", s)
	}
	return d, nil
}

// workNos parses a work number ("1001") or an inclusive range ("1001-1050").
func workNos(field, s string) (lo, hi ccgw.AgentID, err error) {
	a, b, isRange := strings.Cut(strings.TrimSpace(s), "-")
	if lo, err = ccgw.ParseAgentID(strings.TrimSpace(a)); err != nil {
		return 0, 0, fieldErr(field, "%q is not a work number (%d–%d) or a range like 1001-1050", s, ccgw.MinAgentID, ccgw.MaxAgentID)
	}
	hi = lo
	if isRange {
		if hi, err = ccgw.ParseAgentID(strings.TrimSpace(b)); err != nil {
			return 0, 0, fieldErr(field, "%q is not a work number (%d–%d) or a range like 1001-1050", s, ccgw.MinAgentID, ccgw.MaxAgentID)
		}
		if hi < lo {
			return 0, 0, fieldErr(field, "range %q runs backwards", s)
		}
	}
	return lo, hi, nil
}

func (f *scenarioFile) scenario() (*Scenario, error) {
	sc := &Scenario{Seed: f.Seed, Start: DefaultStart(), Clock: "virtual"}
	var err error
	if f.Start != "" {
		if sc.Start, err = time.Parse(time.RFC3339, f.Start); err != nil {
			return nil, fieldErr("start", "%q is not an RFC 3339 time like 2026-01-05T09:00:00Z", f.Start)
		}
	}
	switch f.Clock {
	case "", "virtual":
	case "real":
		sc.Clock = "real"
	default:
		return nil, fieldErr("clock", "%q: want virtual or real", f.Clock)
	}
	if sc.RingTimeout, err = duration("ringTimeout", f.RingTimeout); err != nil {
		return nil, err
	}
	if sc.CalleeAnswer, err = duration("calleeAnswer", f.CalleeAnswer); err != nil {
		return nil, err
	}
	if sc.Duration, err = duration("duration", f.Duration); err != nil {
		return nil, err
	}

	if len(f.Skills) == 0 {
		return nil, fieldErr("skills", "at least one skill is needed")
	}
	known := map[int]bool{}
	for i, s := range f.Skills {
		field := "skills[" + strconv.Itoa(i) + "]"
		switch {
		case s.ID < 1:
			return nil, fieldErr(field+".id", "%d: want a positive skill ID", s.ID)
		case known[s.ID]:
			return nil, fieldErr(field+".id", "skill %d listed twice", s.ID)
		case strings.TrimSpace(s.Name) == "":
			return nil, fieldErr(field+".name", "missing")
		case s.MediaType < 0:
			return nil, fieldErr(field+".mediatype", "%d is negative", s.MediaType)
		}
		known[s.ID] = true
		mt := s.MediaType
		if mt == 0 {
			mt = 5 // voice
		}
		sc.skills = append(sc.skills, ccgw.Skill{ID: s.ID, Name: s.Name, MediaType: mt})
	}
	skillList := func(field string, ids []int) error {
		for j, id := range ids {
			if !known[id] {
				return fieldErr(field+"["+strconv.Itoa(j)+"]", "unknown skill %d", id)
			}
		}
		return nil
	}

	seen := map[ccgw.AgentID]string{}
	for i, a := range f.Agents {
		field := "agents[" + strconv.Itoa(i) + "]"
		lo, hi, err := workNos(field+".workNo", a.WorkNo)
		if err != nil {
			return nil, err
		}
		if len(seen)+int(hi-lo)+1 > MaxScenarioAgents {
			return nil, fieldErr(field+".workNo", "more than %d simulated agents", MaxScenarioAgents)
		}
		if err := skillList(field+".skills", a.Skills); err != nil {
			return nil, err
		}
		answer, err := duration(field+".answerAfter", a.AnswerAfter)
		if err != nil {
			return nil, err
		}
		wrap, err := duration(field+".wrapUp", a.WrapUp)
		if err != nil {
			return nil, err
		}
		for id := lo; id <= hi; id++ {
			if prev, dup := seen[id]; dup {
				return nil, fieldErr(field+".workNo", "agent %s is also in %s", id, prev)
			}
			seen[id] = field
			var skills []int
			if a.Skills != nil {
				skills = append([]int{}, a.Skills...)
			}
			sc.Agents = append(sc.Agents, ScenarioAgent{ID: id, Skills: skills, AnswerAfter: answer, WrapUp: wrap})
		}
	}
	sort.Slice(sc.Agents, func(i, j int) bool { return sc.Agents[i].ID < sc.Agents[j].ID })

	rated := map[int]bool{}
	for i, a := range f.Arrivals {
		field := "arrivals[" + strconv.Itoa(i) + "]"
		var r Rate
		switch {
		case !known[a.Skill]:
			return nil, fieldErr(field+".skill", "unknown skill %d", a.Skill)
		case rated[a.Skill]:
			return nil, fieldErr(field+".skill", "skill %d has arrivals twice", a.Skill)
		case a.PerHour <= 0:
			return nil, fieldErr(field+".perHour", "%v: want more than 0", a.PerHour)
		case !ValidPerHour(a.PerHour):
			return nil, fieldErr(field+".perHour", "%v: want %v to %v", a.PerHour, MinPerHour, MaxPerHour)
		}
		rated[a.Skill] = true
		r.PerHour = a.PerHour
		if r.TalkMin, err = duration(field+".talkMin", a.TalkMin); err != nil {
			return nil, err
		}
		if r.TalkMin < time.Second {
			return nil, fieldErr(field+".talkMin", "want at least 1s")
		}
		if r.TalkMax, err = duration(field+".talkMax", a.TalkMax); err != nil {
			return nil, err
		}
		if a.TalkMax == "" {
			r.TalkMax = r.TalkMin
		}
		if r.TalkMax < r.TalkMin {
			return nil, fieldErr(field+".talkMax", "%s is less than talkMin %s", r.TalkMax, r.TalkMin)
		}
		if r.AbandonAfter, err = duration(field+".abandonAfter", a.AbandonAfter); err != nil {
			return nil, err
		}
		sc.Arrivals = append(sc.Arrivals, Arrival{Skill: a.Skill, Rate: r})
	}

	for i, c := range f.Calls {
		field := "calls[" + strconv.Itoa(i) + "]"
		at, err := duration(field+".at", c.At)
		if err != nil {
			return nil, err
		}
		if !known[c.Skill] {
			return nil, fieldErr(field+".skill", "unknown skill %d", c.Skill)
		}
		if c.Caller != "" && !ValidNumber(c.Caller) {
			return nil, fieldErr(field+".caller", "%q is not a phone number", c.Caller)
		}
		spec := CallSpec{Skill: c.Skill, Caller: c.Caller, CallData: c.CallData}
		if spec.TalkFor, err = duration(field+".talk", c.Talk); err != nil {
			return nil, err
		}
		if spec.AbandonAfter, err = duration(field+".abandonAfter", c.AbandonAfter); err != nil {
			return nil, err
		}
		sc.Calls = append(sc.Calls, TimedCall{At: at, Call: spec})
	}

	for i, o := range f.Outbound {
		field := "outbound[" + strconv.Itoa(i) + "]"
		at, err := duration(field+".at", o.At)
		if err != nil {
			return nil, err
		}
		id, err := ccgw.ParseAgentID(strings.TrimSpace(o.Agent))
		if err != nil {
			return nil, fieldErr(field+".agent", "%q is not a work number", o.Agent)
		}
		if _, ok := seen[id]; !ok {
			return nil, fieldErr(field+".agent", "%s is not a simulated agent of this scenario", id)
		}
		if !ValidNumber(o.Called) {
			return nil, fieldErr(field+".called", "%q is not a phone number", o.Called)
		}
		talk, err := duration(field+".talk", o.Talk)
		if err != nil {
			return nil, err
		}
		if talk <= 0 {
			return nil, fieldErr(field+".talk", "want more than 0s")
		}
		sc.Outbound = append(sc.Outbound, TimedCallout{At: at, Agent: id, Called: o.Called, Talk: talk})
	}

	for i, fl := range f.Faults {
		tf, err := fl.timedFault("faults[" + strconv.Itoa(i) + "]")
		if err != nil {
			return nil, err
		}
		sc.Faults = append(sc.Faults, tf)
	}
	return sc, nil
}

// Skills returns the scenario's skills, in file order: the skills of every
// agent of the directory built for it (agent.Open).
func (sc *Scenario) Skills() []ccgw.Skill {
	return append([]ccgw.Skill(nil), sc.skills...)
}

// Apply sets the scenario up on e, whose clock is taken to be at the scenario's
// start: it signs in the simulated agents in work-number order, starts the
// arrivals in file order, and schedules the timed calls, the outbound calls and
// the end of the arrivals on e's clock (those due at once run before Apply
// returns). It fails if e's directory lacks one of the scenario's skills or
// agents, or an agent's answerAfter is not shorter than e's ring timeout. An
// agent whose work number is already signed in (a client's session restored at
// start, or another node's on a shared store) is left to it, not simulated, and
// logged.
func (sc *Scenario) Apply(e *Engine) error {
	for _, s := range sc.skills {
		if _, ok := e.cfg.Directory.Skill(s.ID); !ok {
			return fmt.Errorf("scenario: skill %d is not in the agent directory", s.ID)
		}
	}
	for _, a := range sc.Agents {
		if a.AnswerAfter >= e.cfg.RingTimeout {
			return fmt.Errorf("scenario: agent %s answers after %s, not within the ring timeout %s", a.ID, a.AnswerAfter, e.cfg.RingTimeout)
		}
	}
	for _, a := range sc.Agents {
		err := e.AddSimAgent(a.ID, SimAgent{AnswerAfter: a.AnswerAfter, WrapUp: a.WrapUp}, a.Skills)
		if ccgw.CodeOf(err) == ccgw.RetAlreadySignedIn {
			e.cfg.Log.Warn("scenario agent not simulated: the work number is signed in", "agent", a.ID.String())
			continue
		}
		if err != nil {
			return fmt.Errorf("scenario: agent %s: %w", a.ID, err)
		}
	}
	for _, a := range sc.Arrivals {
		if err := e.SetRate(a.Skill, a.Rate); err != nil {
			return fmt.Errorf("scenario: arrivals of skill %d: %w", a.Skill, err)
		}
	}
	for _, c := range sc.Calls {
		e.At(c.At, func() {
			if _, err := e.Inject(c.Call); err != nil {
				e.cfg.Log.Warn("scenario call failed", "skill", c.Call.Skill, "err", err)
			}
		})
	}
	for _, o := range sc.Outbound {
		e.At(o.At, func() { e.calloutWhenFree(o) })
	}
	if sc.Duration > 0 && len(sc.Arrivals) > 0 {
		e.At(sc.Duration, func() {
			for _, a := range sc.Arrivals {
				e.SetRate(a.Skill, Rate{})
			}
		})
	}
	return nil
}

// calloutWhenFree places o's call if its agent is idle with no call, and
// otherwise tries again after outboundRetry. An agent that signed out drops it.
func (e *Engine) calloutWhenFree(o TimedCallout) {
	s, ok := e.cfg.Sessions.Lookup(context.Background(), o.Agent)
	if !ok {
		e.cfg.Log.Warn("scenario callout dropped: agent not signed in", "agent", o.Agent.String(), "called", o.Called)
		return
	}
	e.lock()
	free := s.State == ccgw.StateIdle && !e.busy(o.Agent)
	e.unlock()
	if !free {
		e.At(outboundRetry, func() { e.calloutWhenFree(o) })
		return
	}
	_, err := e.Callout(o.Agent, CalloutSpec{Called: o.Called, TalkFor: o.Talk})
	switch {
	case ccgw.CodeOf(err) == ccgw.RetSetStateFailed: // a call reached the agent first
		e.At(outboundRetry, func() { e.calloutWhenFree(o) })
	case err != nil:
		e.cfg.Log.Warn("scenario callout failed", "agent", o.Agent.String(), "called", o.Called, "err", err)
	}
}
