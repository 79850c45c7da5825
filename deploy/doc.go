// Package deploy holds the deployment artefacts for ovn-vif-sidecar and
// the tests that keep them honest: the systemd unit and its
// /etc/default file (systemd/), the Kubernetes DaemonSet that runs
// ovn-controller and the sidecar in one pod on DPU nodes (kubernetes/),
// the sidecar-only DaemonSet (kubernetes-sidecar-only/), the Prometheus
// alerts, PodMonitor and Grafana dashboard (prometheus/), the Debian
// package (debian/, make deb) and, at the repository root, the
// Containerfile.
//
// The package has no code. Its tests parse every artefact and check the
// properties that break silently otherwise: probe paths and ports that
// match the daemon's listener, a read-only sysfs mount that matches
// --sysfs-root, the OVS run directory shared by both containers, a
// kustomization that lists exactly the manifests that exist, unit
// ordering after Open vSwitch and OVN, a static multi-stage image build,
// and that every flag the artefacts pass exists in the daemon's --help;
// that alerts and dashboard use only metrics the daemon exports, that
// every alert has a description, a runbook section and promtool cases
// (prometheus/alerts_test.yaml); that the .deb built by make deb holds a
// working binary, the unit, the defaults file and the docs, and is
// lintian clean; that its maintainer scripts install, upgrade, remove and
// purge like dh_installsystemd's in a throwaway dpkg root; and that make
// names a missing or old Go in one line.
// They also hold the operator pages to the code: the flag table and
// subcommand flags in docs/configure.md, every engine metric and alert in
// docs/monitor.md, every port state in docs/troubleshoot.md.
//
// The tests build ./cmd/ovn-vif-sidecar once (TestMain), so they need the
// go command and fail when the daemon does not compile.
package deploy
