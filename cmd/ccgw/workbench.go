package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/api"
	"github.com/ccgw/ccgw/internal/faults"
	"github.com/ccgw/ccgw/internal/metrics"
	"github.com/ccgw/ccgw/internal/report"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults and limits of the workbench's flags.
const (
	defaultReportAgents = report.DefaultMaxAgents
	maxReportAgents     = 1000000
)

// workbench is the integrator's workbench: the clients' conformance report
// and request journal (nil with --report-agents 0), and faults on demand.
type workbench struct {
	report *report.Report
	faults *faults.Set
	be     *backend // set once the backend is open, before anyone calls
}

// newWorkbench builds the workbench for c on the gateway's clock clk.
func newWorkbench(c Config, clk ccgw.Clock, log *slog.Logger) *workbench {
	w := &workbench{}
	if c.ReportAgents > 0 {
		journal := c.JournalRequests
		if journal == 0 {
			journal = -1 // off
		}
		pollT, pushT := c.HeartbeatTimeout, c.HeartbeatTimeout
		if c.PollModeTimeout > 0 {
			pollT = c.PollModeTimeout
		}
		if c.PushModeTimeout > 0 {
			pushT = c.PushModeTimeout
		}
		if c.TimeoutDetection == "off" {
			pollT, pushT = 0, 0
		}
		w.report = report.New(report.Config{MaxAgents: c.ReportAgents, Journal: journal, PollTimeout: pollT,
			PushTimeout: pushT, Log: log})
	}
	fc := faults.Config{
		Clock: clk, Interfaces: api.Interfaces(), Log: log,
		Kick:       func(id ccgw.AgentID) error { return w.be.svc.Kick(context.Background(), id, ccgw.CauseSupervisor) },
		DropEvents: true, // both backends ask DropEvent (on Redis: about the events this node makes)
	}
	fc.Clients = func() []ccgw.AgentID { return w.be.clients() }
	w.faults = faults.New(fc)
	return w
}

// hooks returns what the sessions are to tell and ask the workbench.
func (w *workbench) hooks() workbenchHooks {
	h := workbenchHooks{dropEvent: w.faults.DropEvent}
	if w.report != nil {
		h.onSignOut = w.report.SignedOut
	}
	return h
}

// register registers the workbench's metrics on reg.
func (w *workbench) register(reg prometheus.Registerer) error {
	src := metrics.WorkbenchSources{Faults: w.faults.Active}
	if w.report != nil {
		src.Findings = w.report.Raised
	}
	if _, err := metrics.NewWorkbench(reg, src); err != nil {
		return fmt.Errorf("workbench metrics: %w", err)
	}
	return nil
}
