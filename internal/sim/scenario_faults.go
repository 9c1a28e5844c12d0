package sim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/faults"
)

// TimedFault is a fault a scenario injects At after its start.
type TimedFault struct {
	At   time.Duration
	Spec faults.Spec // Start left zero: AddFaults sets it
}

// scenarioFault is the YAML form of one entry of a scenario's faults.
type scenarioFault struct {
	At         string   `yaml:"at"`
	Kind       string   `yaml:"kind"`
	Agents     []string `yaml:"agents"`
	Interfaces []string `yaml:"interfaces"`
	Duration   string   `yaml:"duration"`
	Delay      string   `yaml:"delay"`
}

// timedFault validates the entry named field (`faults[2]`) as far as the
// scenario can (a fault's interface names are checked by AddFaults).
func (fl *scenarioFault) timedFault(field string) (TimedFault, error) {
	var tf TimedFault
	var err error
	if tf.At, err = duration(field+".at", fl.At); err != nil {
		return tf, err
	}
	if fl.Kind == "" {
		return tf, fieldErr(field+".kind", "missing: want one of %v", faults.Kinds)
	}
	sp := faults.Spec{Kind: faults.Kind(fl.Kind), Interfaces: fl.Interfaces}
	if sp.Duration, err = duration(field+".duration", fl.Duration); err != nil {
		return tf, err
	}
	if sp.Delay, err = duration(field+".delay", fl.Delay); err != nil {
		return tf, err
	}
	for j, a := range fl.Agents {
		id, err := ccgw.ParseAgentID(strings.TrimSpace(a))
		if err != nil {
			return tf, fieldErr(field+".agents["+strconv.Itoa(j)+"]", "%q is not a work number", a)
		}
		sp.Agents = append(sp.Agents, id)
	}
	if tf.Spec, err = faults.ValidateSpec(sp); err != nil {
		return tf, fmt.Errorf("%s.%s", field, cause(err))
	}
	return tf, nil
}

// cause returns the text of a faults error without its retcode:
// `delay: 31s is not within 1ms and 30s`.
func cause(err error) string {
	var e *ccgw.Error
	if errors.As(err, &e) && e.Err != nil {
		return e.Err.Error()
	}
	return err.Error()
}

// AddFaults adds the scenario's faults to fs, each At after start (the
// scenario's start on the gateway's clock). Its errors name the entry and the
// field: `faults[1].interfaces[0]: "handshake" is not an interface`.
func (sc *Scenario) AddFaults(fs *faults.Set, start time.Time) error {
	for i, tf := range sc.Faults {
		sp := tf.Spec
		sp.Start = start.Add(tf.At)
		if _, err := fs.Add(sp); err != nil {
			return fmt.Errorf("scenario: faults[%d].%s", i, cause(err))
		}
	}
	return nil
}
