package sim

import (
	"math"
	"time"

	"github.com/ccgw/ccgw"
)

// Limits of what the simulator takes from the admin API and scenario files. They
// keep every input finite and every timer within time.Duration, and bound the
// work one request can cause: a rate of MaxPerHour on one skill for a clock
// advance of the admin API's longest (24h) makes 8.64 million arrivals, of which
// at most MaxCalls live at once.
const (
	// MaxPerHour caps a skill's random arrivals: 100 a second.
	MaxPerHour = 360000
	// MinPerHour is the smallest rate other than 0 (which stops arrivals): one
	// call in a thousand hours. An exponential gap at a smaller rate could
	// overflow time.Duration.
	MinPerHour = 0.001
	// MaxSpan caps every duration a call or a simulated agent is given: talk
	// time, abandon time, answer time and wrap-up time.
	MaxSpan = 24 * time.Hour
	// DefaultMaxCalls is Config.MaxCalls's default.
	DefaultMaxCalls = 100000
)

// ErrTooManyCalls is the cause of an injection refused because MaxCalls calls
// are live.
var ErrTooManyCalls = ccgw.Errorf(ccgw.RetBadParam, "too many live calls")

// ValidPerHour reports whether v is a rate SetRate takes: 0, or finite and in
// [MinPerHour, MaxPerHour]. NaN and the infinities are not.
func ValidPerHour(v float64) bool {
	return v == 0 || (v >= MinPerHour && v <= MaxPerHour && !math.IsInf(v, 0))
}

// span reports whether d is a duration the simulator takes: in [0, MaxSpan].
func span(d time.Duration) bool { return d >= 0 && d <= MaxSpan }

func (r Rate) valid() bool {
	return ValidPerHour(r.PerHour) && span(r.TalkMin) && span(r.TalkMax) && r.TalkMin <= r.TalkMax &&
		span(r.AbandonAfter)
}

func (c CallSpec) valid() bool { return span(c.TalkFor) && span(c.AbandonAfter) }

func (sa SimAgent) valid() bool { return span(sa.AnswerAfter) && span(sa.WrapUp) }
