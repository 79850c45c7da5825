package sidecar

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

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
	txnDuration       prometheus.Histogram
	reconcileDuration prometheus.Histogram
	dbConnected       *prometheus.GaugeVec
	primed            prometheus.Gauge
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
		txnDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "transaction_duration_seconds",
			Help: "OVS transaction latency.", Buckets: prometheus.ExponentialBuckets(1e-4, 2, 16)}),
		reconcileDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "reconcile_duration_seconds",
			Help: "Duration of one reconcile pass, including provider calls and transactions.", Buckets: prometheus.ExponentialBuckets(1e-5, 2, 20)}),
		dbConnected: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "db_connected",
			Help: "1 when the database connection is up and its initial dump is done."}, []string{"db"}),
		primed: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "primed",
			Help: "1 when both databases have synced since their last (re)connect and the chassis is known; unplugging is allowed."}),
	}
	m.dbConnected.WithLabelValues("ovs")
	m.dbConnected.WithLabelValues("sb")
	if reg != nil {
		reg.MustRegister(m.plugged, m.pending, m.operations, m.prepareDuration, m.prepareTimeouts,
			m.txnDuration, m.reconcileDuration, m.dbConnected, m.primed)
	}
	return m
}

// replacingRegisterer lets each new libovsdb client register its metrics
// again: the sidecar builds a new client on every reconnect, and libovsdb
// registers per client, which would otherwise panic on the second one.
type replacingRegisterer struct{ r prometheus.Registerer }

func (p replacingRegisterer) Register(c prometheus.Collector) error {
	err := p.r.Register(c)
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		p.r.Unregister(c)
		err = p.r.Register(c)
	}
	return err
}

func (p replacingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := p.Register(c); err != nil {
			panic(err)
		}
	}
}

func (p replacingRegisterer) Unregister(c prometheus.Collector) bool { return p.r.Unregister(c) }
