package sim

import (
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/session"
)

// AddSimAgent signs in a simulated agent: it needs no client, never expires,
// and behaves as sa says (auto-answer unless sa.AnswerAfter is set). With
// skills it serves those of its configured skills only. It never replaces a
// session: it fails with RetAlreadySignedIn if the agent is signed in (by a
// client, or already simulated by this engine), and with RetBadParam for a
// duration outside [0, MaxSpan]. A simulated session that an earlier run of
// the simulator left in a shared store (Redis keeps them; they never expire) is
// replaced.
func (e *Engine) AddSimAgent(id ccgw.AgentID, sa SimAgent, skills []int) error {
	if !sa.valid() {
		return ccgw.Fail(ccgw.RetBadParam)
	}
	force := false
	if old, ok := e.cfg.Sessions.Lookup(id); ok {
		e.lock()
		_, mine := e.simAgent[id]
		e.unlock()
		if !old.Simulated || mine {
			return &ccgw.Error{Code: ccgw.RetAlreadySignedIn, Op: "simulated"}
		}
		force = true
	}
	// Set before the sign-in, whose report may route a call to the agent at
	// once. Only sessions marked Simulated act on it (offer, scheduleWrapUp), so
	// a client that signs in meanwhile, and wins, is not answered for.
	e.lock()
	prev, had := e.simAgent[id]
	e.simAgent[id] = sa
	e.unlock()
	s, err := e.cfg.Sessions.SignIn(session.SignIn{
		Op: "simulated", SkipPassword: true, Status: ccgw.StateIdle, Force: force,
		Session: ccgw.Session{
			Agent: id, Phone: "7" + id.String(), AutoAnswer: sa.AnswerAfter == 0, AutoEnterIdle: sa.WrapUp == 0,
			ReleasePhone: true, AgentType: 4, IP: "127.0.0.1", MediaType: "TTF", Simulated: true,
		},
	})
	if err != nil {
		e.lock()
		if had {
			e.simAgent[id] = prev
		} else {
			delete(e.simAgent, id)
		}
		e.unlock()
		return err
	}
	if skills == nil {
		return nil
	}
	keep := map[int]bool{}
	for _, sk := range skills {
		keep[sk] = true
	}
	_, err = e.cfg.Sessions.Update(id, s.GUID, func(s *ccgw.Session, _ time.Time) ([]session.Emit, error) {
		var on []int
		for _, sk := range s.Skills {
			if keep[sk] {
				on = append(on, sk)
			}
		}
		s.Skills = on
		return nil, nil
	})
	return err
}
