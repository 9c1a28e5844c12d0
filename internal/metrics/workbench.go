package metrics

import (
	"github.com/ccgw/ccgw/internal/faults"
	"github.com/ccgw/ccgw/internal/report"
	"github.com/prometheus/client_golang/prometheus"
)

// WorkbenchSources are where the workbench's figures are read; a nil func
// reports nothing.
type WorkbenchSources struct {
	// Findings gives, per finding code, how many times one was new for an
	// agent (report.Report.Raised).
	Findings func() map[report.Code]uint64
	// Faults gives how many faults of each kind are on (faults.Set.Active).
	Faults func() map[faults.Kind]int
}

// Workbench collects the integrator's workbench figures at scrape time.
type Workbench struct {
	src      WorkbenchSources
	findings *prometheus.Desc
	faults   *prometheus.Desc
}

// NewWorkbench registers the workbench's metrics on reg:
// ccgw_client_findings_total{code} and ccgw_faults_active{kind}.
func NewWorkbench(reg prometheus.Registerer, src WorkbenchSources) (*Workbench, error) {
	w := &Workbench{
		src:      src,
		findings: prometheus.NewDesc("ccgw_client_findings_total", "Client conformance findings raised (new for an agent), by code.", []string{"code"}, nil),
		faults:   prometheus.NewDesc("ccgw_faults_active", "Faults on now, by kind.", []string{"kind"}, nil),
	}
	if err := reg.Register(w); err != nil {
		return nil, err
	}
	return w, nil
}

// Describe implements prometheus.Collector.
func (w *Workbench) Describe(ch chan<- *prometheus.Desc) {
	ch <- w.findings
	ch <- w.faults
}

// Collect implements prometheus.Collector.
func (w *Workbench) Collect(ch chan<- prometheus.Metric) {
	if w.src.Findings != nil {
		for code, n := range w.src.Findings() {
			ch <- prometheus.MustNewConstMetric(w.findings, prometheus.CounterValue, float64(n), string(code))
		}
	}
	if w.src.Faults != nil {
		for kind, n := range w.src.Faults() {
			ch <- prometheus.MustNewConstMetric(w.faults, prometheus.GaugeValue, float64(n), string(kind))
		}
	}
}
