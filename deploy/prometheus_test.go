package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/mdanchor"
)

const (
	alertsFile    = "prometheus/alerts.yaml"
	dashboardFile = "prometheus/grafana-dashboard.json"
	podMonitor    = "prometheus/podmonitor.yaml"
)

// Go and process collector metrics the artefacts use; the collectors are
// registered in cmd/ovn-vif-sidecar/app.
var standardMetrics = map[string]bool{
	"up": true, "process_resident_memory_bytes": true, "process_cpu_seconds_total": true,
	"go_memstats_heap_inuse_bytes": true,
}

// definedMetrics reads every ovn_vif_sidecar_ metric the daemon defines
// from its sources: Name: "x" with the namespace, and Namespace+"_x".
func definedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	files, _ := filepath.Glob("../sidecar/*.go")
	more, _ := filepath.Glob("../cmd/ovn-vif-sidecar/app/*.go")
	for _, f := range append(files, more...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range []*regexp.Regexp{regexp.MustCompile(`Name:\s*"([a-z0-9_]+)"`), regexp.MustCompile(`Namespace\+"_([a-z0-9_]+)"`)} {
			for _, m := range re.FindAllStringSubmatch(string(src), -1) {
				out["ovn_vif_sidecar_"+m[1]] = true
			}
		}
	}
	for _, want := range []string{"ovn_vif_sidecar_build_info", "ovn_vif_sidecar_plug_operations_total", "ovn_vif_sidecar_db_connected", "ovn_vif_sidecar_hwdb_ports"} {
		if !out[want] {
			t.Fatalf("found no definition of %s in the sources; the scan is broken (found %v)", want, sortedKeys(out))
		}
	}
	return out
}

var metricRef = regexp.MustCompile(`\b(ovn_vif_sidecar_[a-z0-9_]+|process_[a-z0-9_]+|go_[a-z0-9_]+|up)\b`)

// checkExpr reports metric names in a PromQL expression that the daemon
// does not export. libovsdb's client metrics are per connection.
func checkExpr(defined map[string]bool, expr string) []string {
	var bad []string
	for _, m := range metricRef.FindAllString(expr, -1) {
		base := m
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(m, suf); ok && defined[b] {
				base = b
			}
		}
		switch {
		case defined[base], standardMetrics[base]:
		case strings.HasPrefix(base, "ovn_vif_sidecar_libovsdb_ovs_"), strings.HasPrefix(base, "ovn_vif_sidecar_libovsdb_sb_"):
		default:
			bad = append(bad, m)
		}
	}
	return bad
}

func TestCheckExprCatchesUnknownMetrics(t *testing.T) {
	defined := definedMetrics(t)
	if bad := checkExpr(defined, `rate(ovn_vif_sidecar_plug_operations_total[5m]) + ovn_vif_sidecar_plugs_total`); len(bad) != 1 || bad[0] != "ovn_vif_sidecar_plugs_total" {
		t.Errorf("checkExpr missed or misreported an unknown metric: %v", bad)
	}
}

func TestAlertRules(t *testing.T) {
	defined := definedMetrics(t)
	data, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	// The rule-file format promtool check rules reads.
	var rf struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Record      string            `yaml:"record"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	n := 0
	names := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || r.Expr == "" || r.Annotations["summary"] == "" || r.Labels["severity"] == "" {
				t.Errorf("%s: rule %+v needs alert, expr, labels.severity and annotations.summary", alertsFile, r)
			}
			if names[r.Alert] {
				t.Errorf("%s: alert %s defined twice", alertsFile, r.Alert)
			}
			names[r.Alert] = true
			if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") || strings.Count(r.Expr, "{") != strings.Count(r.Expr, "}") {
				t.Errorf("%s: %s: unbalanced expression %q", alertsFile, r.Alert, r.Expr)
			}
			if bad := checkExpr(defined, r.Expr); len(bad) > 0 {
				t.Errorf("%s: %s uses metrics the daemon does not export: %v", alertsFile, r.Alert, bad)
			}
		}
	}
	if n < 5 {
		t.Errorf("%s has %d rules", alertsFile, n)
	}
	// The monitoring page shows the same alerts.
	doc, err := os.ReadFile(monitorDoc)
	if err != nil {
		t.Fatal(err)
	}
	for a := range names {
		if !strings.Contains(string(doc), a) {
			t.Errorf("%s does not mention alert %s from %s", monitorDoc, a, alertsFile)
		}
	}
	// Every alert says what to check and links its runbook section.
	anchors, err := mdanchor.Headings(runbookDoc)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			desc, url := r.Annotations["description"], r.Annotations["runbook_url"]
			if !strings.Contains(desc, "`") {
				t.Errorf("%s: %s: description %q gives no command to run", alertsFile, r.Alert, desc)
			}
			doc, anchor, ok := strings.Cut(url, "#")
			if !ok || !strings.HasSuffix(doc, "/docs/runbook.md") || !strings.HasPrefix(doc, "https://") {
				t.Errorf("%s: %s: runbook_url %q is not an anchor into docs/runbook.md", alertsFile, r.Alert, url)
				continue
			}
			if anchor != strings.ToLower(r.Alert) || !anchors[anchor] {
				t.Errorf("%s: %s: runbook_url anchor #%s is not the heading \"## %s\" in %s", alertsFile, r.Alert, anchor, r.Alert, runbookDoc)
			}
			// A count in a text must agree with it: "1 ports" is wrong.
			for _, text := range []string{r.Annotations["summary"], desc} {
				if strings.Contains(text, "{{ $value }} ") && strings.Contains(text, "ports") && !strings.Contains(text, "eq $value 1.0") {
					t.Errorf("%s: %s: %q counts ports without a singular for 1", alertsFile, r.Alert, text)
				}
			}
		}
	}
}

const (
	runbookDoc     = "../docs/runbook.md"
	alertsTestFile = "prometheus/alerts_test.yaml"
)

// The promtool tests (make test runs promtool test rules) cover every
// rule: each fires in some case and is expected silent in another.
func TestAlertUnitTestsCoverEveryRule(t *testing.T) {
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	var tests struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []struct {
					ExpAnnotations map[string]string `yaml:"exp_annotations"`
				} `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	for file, v := range map[string]any{alertsFile: &rules, alertsTestFile: &tests} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, v); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	if len(tests.RuleFiles) != 1 || tests.RuleFiles[0] != filepath.Base(alertsFile) {
		t.Errorf("%s tests %v, want [%s]", alertsTestFile, tests.RuleFiles, filepath.Base(alertsFile))
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) == 0 {
				silent[a.Alertname] = true
			}
			for _, e := range a.ExpAlerts {
				if e.ExpAnnotations["description"] != "" && e.ExpAnnotations["runbook_url"] != "" {
					fires[a.Alertname] = true
				}
			}
		}
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if !fires[r.Alert] || !silent[r.Alert] {
				t.Errorf("%s: %s needs a case where it fires (with its annotations) and one where it stays silent; fires %v, silent %v",
					alertsTestFile, r.Alert, fires[r.Alert], silent[r.Alert])
			}
		}
	}
	if n == 0 {
		t.Fatalf("%s has no rules", alertsFile)
	}
}

func TestGrafanaDashboard(t *testing.T) {
	defined := definedMetrics(t)
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: title %q uid %q, %d panels", dashboardFile, d.Title, d.UID, len(d.Panels))
	}
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if bad := checkExpr(defined, tg.Expr); len(bad) > 0 {
				t.Errorf("panel %q uses metrics the daemon does not export: %v", p.Title, bad)
			}
			for _, m := range metricRef.FindAllString(tg.Expr, -1) {
				used[m] = true
			}
		}
	}
	for _, want := range []string{"ovn_vif_sidecar_ports", "ovn_vif_sidecar_plug_operations_total", "ovn_vif_sidecar_db_connected", "ovn_vif_sidecar_primed"} {
		if !used[want] {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}

// The PodMonitor scrapes the port the DaemonSets name "metrics", and
// selects their pods.
func TestPodMonitor(t *testing.T) {
	data, err := os.ReadFile(podMonitor)
	if err != nil {
		t.Fatal(err)
	}
	var pm struct {
		APIVersion string     `yaml:"apiVersion"`
		Kind       string     `yaml:"kind"`
		Metadata   objectMeta `yaml:"metadata"`
		Spec       struct {
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			PodMetricsEndpoints []struct {
				Port     string `yaml:"port"`
				Path     string `yaml:"path"`
				Interval string `yaml:"interval"`
			} `yaml:"podMetricsEndpoints"`
		} `yaml:"spec"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&pm); err != nil {
		t.Fatalf("%s: %v", podMonitor, err)
	}
	if pm.Kind != "PodMonitor" || pm.APIVersion != "monitoring.coreos.com/v1" || len(pm.Spec.PodMetricsEndpoints) != 1 {
		t.Fatalf("%s: %+v", podMonitor, pm)
	}
	ep := pm.Spec.PodMetricsEndpoints[0]
	for _, dir := range manifestDirs {
		ds, _ := loadDaemonSet(t, loadManifestsIn(t, dir))
		for k, v := range pm.Spec.Selector.MatchLabels {
			if ds.Spec.Template.Metadata.Labels[k] != v {
				t.Errorf("%s: PodMonitor selects %s=%s, which the pods lack", dir, k, v)
			}
		}
		if pm.Metadata.Namespace != ds.Metadata.Namespace {
			t.Errorf("%s: PodMonitor in namespace %q, DaemonSet in %q", dir, pm.Metadata.Namespace, ds.Metadata.Namespace)
		}
		sc := ds.Spec.Template.Spec.container(sidecarName)
		if sc == nil || probePort(sc, ep.Port) != "9476" {
			t.Errorf("%s: PodMonitor port %q is not the sidecar's named port for 9476", dir, ep.Port)
		}
	}
	if ep.Path != "/metrics" {
		t.Errorf("PodMonitor path %q", ep.Path)
	}
}
