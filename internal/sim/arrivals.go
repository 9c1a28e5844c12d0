package sim

import (
	"time"

	"github.com/ccgw/ccgw"
)

// arrival is a skill's random call arrivals.
type arrival struct {
	rate  Rate
	timer ccgw.Timer
}

// Rate is a Poisson arrival process of calls to a skill.
type Rate struct {
	PerHour      float64       `json:"perHour"`
	TalkMin      time.Duration `json:"-"` // talk time, uniform in [TalkMin, TalkMax] whole seconds
	TalkMax      time.Duration `json:"-"`
	AbandonAfter time.Duration `json:"-"` // 0: callers never abandon
}

// SetRate starts, changes or (PerHour 0) stops skill's random arrivals. It fails
// with RetBadParam for an unknown skill, a PerHour that ValidPerHour refuses
// (NaN, infinite, negative, above MaxPerHour), a duration outside [0, MaxSpan]
// or TalkMax below TalkMin. An arrival while Config.MaxCalls calls are live is
// dropped.
func (e *Engine) SetRate(skill int, r Rate) error {
	if _, ok := e.cfg.Directory.Skill(skill); !ok || !r.valid() {
		return ccgw.Fail(ccgw.RetBadParam)
	}
	e.lock()
	defer e.unlock()
	if a := e.rates[skill]; a != nil && a.timer != nil {
		a.timer.Stop()
	}
	if r.PerHour == 0 {
		delete(e.rates, skill)
		return nil
	}
	a := &arrival{rate: r}
	e.rates[skill] = a
	e.scheduleArrival(skill, a)
	return nil
}

func (e *Engine) scheduleArrival(skill int, a *arrival) {
	gap := time.Duration(e.rnd.ExpFloat64() / a.rate.PerHour * float64(time.Hour))
	a.timer = e.after(gap, func() {
		if e.rates[skill] != a {
			return
		}
		talk := a.rate.TalkMin
		if span := a.rate.TalkMax - a.rate.TalkMin; span > 0 {
			talk += time.Duration(e.rnd.Int64N(int64(span)/int64(time.Second)+1)) * time.Second
		}
		if e.room() {
			e.inject(CallSpec{Skill: skill, TalkFor: talk, AbandonAfter: a.rate.AbandonAfter})
		}
		e.scheduleArrival(skill, a)
	})
}

// Rates returns the arrival processes running, by skill.
func (e *Engine) Rates() map[int]Rate {
	e.lock()
	defer e.unlock()
	out := make(map[int]Rate, len(e.rates))
	for sk, a := range e.rates {
		out[sk] = a.rate
	}
	return out
}
