package metrics

import (
	"strings"
	"testing"

	"github.com/ccgw/ccgw/internal/faults"
	"github.com/ccgw/ccgw/internal/report"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestWorkbenchReadsItsSources(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, err := NewWorkbench(reg, WorkbenchSources{
		Findings: func() map[report.Code]uint64 {
			return map[report.Code]uint64{report.StaleGUID: 3, report.Hammering: 0}
		},
		Faults: func() map[faults.Kind]int { return map[faults.Kind]int{faults.Slow: 2, faults.DropEvents: 0} },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP ccgw_client_findings_total Client conformance findings raised (new for an agent), by code.
# TYPE ccgw_client_findings_total counter
ccgw_client_findings_total{code="hammering"} 0
ccgw_client_findings_total{code="stale-guid"} 3
# HELP ccgw_faults_active Faults on now, by kind.
# TYPE ccgw_faults_active gauge
ccgw_faults_active{kind="drop-events"} 0
ccgw_faults_active{kind="slow"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ccgw_client_findings_total", "ccgw_faults_active"); err != nil {
		t.Fatal(err)
	}
}
