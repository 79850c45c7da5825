package sidecar

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// This file owns the metrics: the worker updates them, scrapes read
// them (connection state is read at scrape time).

// Namespace prefixes every metric the sidecar exports.
const Namespace = "ovn_vif_sidecar"

// Metrics are the engine's Prometheus metrics. Labels never carry logical
// port names, so cardinality stays bounded by providers and ops.
type Metrics struct {
	plugged           *prometheus.GaugeVec
	pending           *prometheus.GaugeVec
	operations        *prometheus.CounterVec
	prepareDuration   *prometheus.HistogramVec
	prepareTimeouts   *prometheus.CounterVec
	notConverging     *prometheus.CounterVec
	txnDuration       prometheus.Histogram
	reconcileDuration prometheus.Histogram
	ports             *prometheus.GaugeVec
	indexRepairs      *prometheus.CounterVec
	// state reports connection and priming state at scrape time, so the
	// gauges are right even while the worker is idle or waiting.
	state *stateCollector
}

type stateCollector struct {
	connected, primed, schema *prometheus.Desc
	read                      func() (ovs, sb, primed bool)
	// schemas gives each database's last seen schema version.
	schemas func() map[string]string
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.connected
	ch <- c.primed
	ch <- c.schema
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	var ovs, sb, primed bool
	if c.read != nil {
		ovs, sb, primed = c.read()
	}
	ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, b2f(ovs), "ovs")
	ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, b2f(sb), "sb")
	ch <- prometheus.MustNewConstMetric(c.primed, prometheus.GaugeValue, b2f(primed))
	if c.schemas != nil {
		for db, version := range c.schemas() {
			if version != "" {
				ch <- prometheus.MustNewConstMetric(c.schema, prometheus.GaugeValue, 1, db, version)
			}
		}
	}
}

// NewMetrics creates the metrics and registers them with reg, if non-nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		plugged: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "plugged_ports",
			Help: "Logical ports currently plugged, by provider."}, []string{"provider"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "pending_ports",
			Help: "Logical ports waiting for their provider (hardware missing or not settled), by provider and reason class."}, []string{"provider", "reason"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "plug_operations_total",
			Help: "Plug, update, unplug and replug operations by result."}, []string{"provider", "op", "result"}),
		prepareDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "prepare_duration_seconds",
			Help: "Provider Prepare call latency.", Buckets: prometheus.ExponentialBuckets(1e-6, 4, 12)}, []string{"provider", "op"}),
		prepareTimeouts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "prepare_timeouts_total",
			Help: "Provider Prepare calls that exceeded their deadline."}, []string{"provider", "op"}),
		notConverging: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "not_converging_total",
			Help: "Times a logical port was put in error and backed off because its writes did not converge (the loop backstop)."}, []string{"provider"}),
		txnDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "transaction_duration_seconds",
			Help: "OVS transaction latency.", Buckets: prometheus.ExponentialBuckets(1e-4, 2, 16)}),
		reconcileDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "reconcile_duration_seconds",
			Help: "Duration of one reconcile pass, including provider calls and transactions.", Buckets: prometheus.ExponentialBuckets(1e-5, 2, 20)}),
		ports: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "ports",
			Help: "Logical ports the sidecar considers, by provider and state (plugged, pending, conflict, error, unplug-blocked)."}, []string{"provider", "state"}),
		indexRepairs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "index_repairs_total",
			Help: "Index rows the periodic resync found different from the database cache and repaired; non-zero means libovsdb dropped cache events."}, []string{"db"}),
		state: &stateCollector{
			connected: prometheus.NewDesc(Namespace+"_db_connected", "1 when the database connection is up and its initial dump is done.", []string{"db"}, nil),
			primed:    prometheus.NewDesc(Namespace+"_primed", "1 when both databases have synced since their last (re)connect and the chassis is known; unplugging is allowed.", nil, nil),
			schema:    prometheus.NewDesc(Namespace+"_db_schema_info", "1 for the schema version of each database's server, last seen (also when refused as too old).", []string{"db", "version"}, nil),
		},
	}
	if reg != nil {
		reg.MustRegister(m.plugged, m.pending, m.operations, m.prepareDuration, m.prepareTimeouts, m.notConverging,
			m.txnDuration, m.reconcileDuration, m.ports, m.indexRepairs, m.state)
	}
	for _, db := range []string{"ovs", "sb"} {
		m.indexRepairs.WithLabelValues(db)
	}
	return m
}

// initSeries creates every provider × op × result counter at 0, so that
// increase() and rate() alerts see the first error instead of a series
// that appears with it.
func (m *Metrics) initSeries(types []string) {
	for _, typ := range types {
		for _, op := range []plan.Op{plan.OpPlug, plan.OpUpdate, plan.OpUnplug, plan.OpReplug} {
			for _, result := range []string{"success", "error"} {
				m.operations.WithLabelValues(typ, string(op), result)
			}
		}
		for _, op := range []providers.Op{providers.OpCreate, providers.OpRemove} {
			m.prepareTimeouts.WithLabelValues(typ, op.String())
		}
		m.notConverging.WithLabelValues(typ)
	}
}
