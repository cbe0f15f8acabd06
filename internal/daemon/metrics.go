package daemon

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mzsync/mzsync/internal/drift"
)

// metrics are the daemon's Prometheus metrics, on a registry of its own so
// tests and embedders never collide with the global one.
type metrics struct {
	reg         *prometheus.Registry
	passes      *prometheus.CounterVec
	duration    prometheus.Histogram
	changes     *prometheus.CounterVec
	lastApplied prometheus.Gauge
	drift       *prometheus.GaugeVec
	notReady    prometheus.Gauge
	leaseHeld   prometheus.Gauge
	suspended   prometheus.Gauge
	condition   *prometheus.GaugeVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mzsync_reconcile_passes_total",
			Help: "Reconcile passes by result (succeeded, not_ready, locked, failed, stalled).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mzsync_reconcile_duration_seconds",
			Help:    "Duration of reconcile passes, fetch included.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
		}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mzsync_changes_applied_total",
			Help: "Changes executed against Materialize, by op (create, comment, swap, rename, drop).",
		}, []string{"op"}),
		lastApplied: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mzsync_last_applied_timestamp_seconds",
			Help: "Unix time of the last pass after which the catalog matched the desired state.",
		}),
		drift: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mzsync_drift_tables",
			Help: "Tables of active versions whose upstream drifted, by severity (behind, breaking).",
		}, []string{"severity"}),
		notReady: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mzsync_versions_not_ready",
			Help: "Built versions that are not ready (hydrating, lagging or unhealthy).",
		}),
		leaseHeld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mzsync_apply_lease_held",
			Help: "1 while a pass runs under (or is taking) the apply lease, else 0.",
		}),
		suspended: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mzsync_suspended",
			Help: "1 while reconciliation is suspended.",
		}),
		condition: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mzsync_condition",
			Help: "1 for each condition type's current status (True, False, Unknown), else 0.",
		}, []string{"type", "status"}),
	}
	m.reg.MustRegister(m.passes, m.duration, m.changes, m.lastApplied, m.drift, m.notReady, m.leaseHeld, m.suspended, m.condition,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Known label values start at zero, so rates and alerts work before
	// the first occurrence.
	for _, r := range allResults {
		m.passes.WithLabelValues(string(r))
	}
	for _, s := range []drift.Severity{drift.Behind, drift.Breaking} {
		m.drift.WithLabelValues(string(s))
	}
	return m
}

func (m *metrics) setConditions(cs []Condition) {
	for _, c := range cs {
		for _, s := range []string{StatusTrue, StatusFalse, StatusUnknown} {
			v := 0.0
			if c.Status == s {
				v = 1
			}
			m.condition.WithLabelValues(c.Type, s).Set(v)
		}
	}
}

// setOutcome updates the gauges that describe the catalog after a pass.
// A pass that could not read the catalog leaves them as they were.
func (m *metrics) setOutcome(out Outcome) {
	if out.Drift != nil {
		counts := map[drift.Severity]int{}
		for _, t := range out.Drift.Tables {
			counts[t.Severity]++
		}
		for _, s := range []drift.Severity{drift.Behind, drift.Breaking} {
			m.drift.WithLabelValues(string(s)).Set(float64(counts[s]))
		}
	}
	if out.Status != nil {
		n := 0
		for _, s := range out.Status.Schemas {
			for _, v := range s.Versions {
				if v.Schema != "" && !v.Readiness.Ready {
					n++
				}
			}
		}
		m.notReady.Set(float64(n))
	} else if out.Apply != nil && out.Apply.NotReady != nil {
		m.notReady.Set(1)
	}
}
