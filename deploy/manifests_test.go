package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
	"k8s.io/klog/v2"
)

// Paths are relative to this package's directory, where go test runs.
const (
	kubeDir        = "kubernetes"
	sidecarOnlyDir = "kubernetes-sidecar-only"
	unitFile       = "systemd/ovn-vif-sidecar.service"
	defaultFile    = "systemd/ovn-vif-sidecar.default"
	containerfile  = "../Containerfile"
	goModFile      = "../go.mod"
	daemonPkg      = "../cmd/ovn-vif-sidecar"
	// appPkg holds the version variables the linker stamps.
	appPkg         = "github.com/ovn-vif-sidecar/ovn-vif-sidecar/cmd/ovn-vif-sidecar/app"
	sidecarName    = "ovn-vif-sidecar"
	controllerName = "ovn-controller"
	testVersion    = "deploy-test-version"
)

// ---------------------------------------------------------------------------
// The daemon, built once for all tests.

var daemon struct {
	bin string
	err error
	dir string
}

func TestMain(m *testing.M) {
	daemon.bin, daemon.dir, daemon.err = buildDaemon()
	code := m.Run()
	if daemon.dir != "" {
		os.RemoveAll(daemon.dir)
	}
	os.Exit(code)
}

// buildDaemon builds ./cmd/ovn-vif-sidecar the way the Containerfile does
// (static, -trimpath, version stamped through -X .../app.Version).
func buildDaemon() (bin, dir string, err error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", "", fmt.Errorf("go command not found in PATH: %w", err)
	}
	dir, err = os.MkdirTemp("", "deploy-test-")
	if err != nil {
		return "", "", err
	}
	bin = filepath.Join(dir, "ovn-vif-sidecar")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath",
		"-ldflags", "-X "+appPkg+".Version="+testVersion, "-o", bin, daemonPkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", dir, fmt.Errorf("go build %s: %v\n%s", daemonPkg, err, out)
	}
	return bin, dir, nil
}

func daemonBin(t *testing.T) string {
	t.Helper()
	if daemon.err != nil {
		t.Fatalf("cannot build the daemon: %v", daemon.err)
	}
	return daemon.bin
}

// runDaemon runs the built binary and returns its combined output and
// exit code.
func runDaemon(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, daemonBin(t), args...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	default:
		t.Fatalf("running %s %v: %v", daemon.bin, args, err)
		return "", -1
	}
}

// daemonFlags parses `ovn-vif-sidecar --help` (Go's flag.PrintDefaults
// format) into flag name -> default value ("" when none is printed).
func daemonFlags(t *testing.T) map[string]string {
	t.Helper()
	out, code := runDaemon(t, "--help")
	if code != 0 {
		t.Fatalf("ovn-vif-sidecar --help exited %d:\n%s", code, out)
	}
	return parseFlagHelp(out)
}

var (
	helpFlagLine = regexp.MustCompile(`^  -([^\s=]+)`)
	helpDefault  = regexp.MustCompile(`\(default ("(?:[^"\\]|\\.)*"|[^)]*)\)`)
)

func parseFlagHelp(help string) map[string]string {
	flags := map[string]string{}
	cur := ""
	for _, line := range strings.Split(help, "\n") {
		if m := helpFlagLine.FindStringSubmatch(line); m != nil {
			cur = m[1]
			flags[cur] = ""
		}
		if cur == "" {
			continue
		}
		if m := helpDefault.FindStringSubmatch(line); m != nil {
			v := m[1]
			if uq, err := strconv.Unquote(v); err == nil {
				v = uq
			}
			flags[cur] = v
		}
	}
	return flags
}

// flagName turns "--sysfs-root=/x" or "-v" into "sysfs-root" or "v"; ok is
// false for arguments that are not flags.
func flagName(arg string) (string, bool) {
	if !strings.HasPrefix(arg, "-") || arg == "-" || arg == "--" {
		return "", false
	}
	name := strings.TrimLeft(arg, "-")
	name, _, _ = strings.Cut(name, "=")
	return name, name != ""
}

// flagValue returns the value of --name=value (or --name value) in args.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		n, ok := flagName(a)
		if !ok || n != name {
			continue
		}
		if _, v, has := strings.Cut(a, "="); has {
			return v, true
		}
		if i+1 < len(args) {
			return args[i+1], true
		}
		return "", true
	}
	return "", false
}

func TestDaemonHelpParses(t *testing.T) {
	flags := daemonFlags(t)
	// A sanity check of the parser itself, so that an empty map cannot
	// make the flag checks below pass vacuously.
	for _, want := range []string{"ovs-db", "sysfs-root", "http-addr", "v"} {
		if _, ok := flags[want]; !ok {
			t.Errorf("--help does not list -%s; parsed %d flags: %v", want, len(flags), sortedKeys(flags))
		}
	}
}

func TestVersionStamp(t *testing.T) {
	// The Containerfile stamps the version with -X .../app.Version=...; a
	// renamed variable would silently leave "dev".
	out, code := runDaemon(t, "version")
	if f := strings.Fields(out); code != 0 || len(f) < 2 || f[1] != testVersion {
		t.Errorf("built with -X %s.Version=%s, `ovn-vif-sidecar version` printed %q (exit %d)", appPkg, testVersion, out, code)
	}
}

// ---------------------------------------------------------------------------
// Kubernetes manifests.

type document struct {
	file string
	node *yaml.Node
	kind string
	name string
}

// manifestDirs are the two Kubernetes variants: ovn-controller and the
// sidecar in one pod, and the sidecar alone.
var manifestDirs = []string{kubeDir, sidecarOnlyDir}

// loadManifests parses every YAML document of every file under kubeDir.
func loadManifests(t *testing.T) []document { return loadManifestsIn(t, kubeDir) }

// loadManifestsIn parses every YAML document of every file under dir.
func loadManifestsIn(t *testing.T, kubeDir string) []document {
	t.Helper()
	var docs []document
	err := filepath.WalkDir(kubeDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isYAML(p) {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for i := 0; ; i++ {
			var n yaml.Node
			err := dec.Decode(&n)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: document %d: %w", p, i, err)
			}
			if len(n.Content) == 0 || n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null" {
				continue // an empty document (a lone ---)
			}
			var hdr struct {
				APIVersion string `yaml:"apiVersion"`
				Kind       string `yaml:"kind"`
				Metadata   struct {
					Name string `yaml:"name"`
				} `yaml:"metadata"`
			}
			if err := n.Decode(&hdr); err != nil {
				return fmt.Errorf("%s: document %d: %w", p, i, err)
			}
			if hdr.APIVersion == "" || hdr.Kind == "" {
				return fmt.Errorf("%s: document %d has no apiVersion or kind", p, i)
			}
			if hdr.Kind != "Kustomization" && hdr.Metadata.Name == "" {
				return fmt.Errorf("%s: %s document %d has no metadata.name", p, hdr.Kind, i)
			}
			docs = append(docs, document{file: p, node: &n, kind: hdr.Kind, name: hdr.Metadata.Name})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatalf("no YAML documents under %s", kubeDir)
	}
	return docs
}

func isYAML(p string) bool {
	ext := filepath.Ext(p)
	return ext == ".yaml" || ext == ".yml"
}

func byKind(docs []document, kind string) []document {
	var out []document
	for _, d := range docs {
		if d.kind == kind {
			out = append(out, d)
		}
	}
	return out
}

// strictDecode decodes a document into v, failing on fields v does not
// model: a misspelt field (readOnlyRootFileSystem, mountpath) is otherwise
// ignored by the API server's lenient paths and by this test alike. When
// a legitimate new field fails here, add it to the types below.
func strictDecode(n *yaml.Node, v any) error {
	data, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// The subset of the Kubernetes API the DaemonSet uses.
type (
	objectMeta struct {
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
	daemonSet struct {
		APIVersion string     `yaml:"apiVersion"`
		Kind       string     `yaml:"kind"`
		Metadata   objectMeta `yaml:"metadata"`
		Spec       struct {
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			UpdateStrategy struct {
				Type          string `yaml:"type"`
				RollingUpdate struct {
					MaxUnavailable any `yaml:"maxUnavailable"`
					MaxSurge       any `yaml:"maxSurge"`
				} `yaml:"rollingUpdate"`
			} `yaml:"updateStrategy"`
			MinReadySeconds int `yaml:"minReadySeconds"`
			Template        struct {
				Metadata objectMeta `yaml:"metadata"`
				Spec     podSpec    `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	podSpec struct {
		ServiceAccountName            string              `yaml:"serviceAccountName"`
		AutomountServiceAccountToken  *bool               `yaml:"automountServiceAccountToken"`
		HostNetwork                   bool                `yaml:"hostNetwork"`
		HostPID                       bool                `yaml:"hostPID"`
		DNSPolicy                     string              `yaml:"dnsPolicy"`
		PriorityClassName             string              `yaml:"priorityClassName"`
		TerminationGracePeriodSeconds *int                `yaml:"terminationGracePeriodSeconds"`
		NodeSelector                  map[string]string   `yaml:"nodeSelector"`
		Tolerations                   []toleration        `yaml:"tolerations"`
		SecurityContext               *podSecurityContext `yaml:"securityContext"`
		InitContainers                []container         `yaml:"initContainers"`
		Containers                    []container         `yaml:"containers"`
		Volumes                       []volume            `yaml:"volumes"`
	}
	toleration struct {
		Key               string `yaml:"key"`
		Operator          string `yaml:"operator"`
		Value             string `yaml:"value"`
		Effect            string `yaml:"effect"`
		TolerationSeconds *int   `yaml:"tolerationSeconds"`
	}
	seccompProfile struct {
		Type             string `yaml:"type"`
		LocalhostProfile string `yaml:"localhostProfile"`
	}
	podSecurityContext struct {
		RunAsUser          *int64          `yaml:"runAsUser"`
		RunAsGroup         *int64          `yaml:"runAsGroup"`
		RunAsNonRoot       *bool           `yaml:"runAsNonRoot"`
		FSGroup            *int64          `yaml:"fsGroup"`
		SupplementalGroups []int64         `yaml:"supplementalGroups"`
		SeccompProfile     *seccompProfile `yaml:"seccompProfile"`
	}
	container struct {
		Name                     string           `yaml:"name"`
		Image                    string           `yaml:"image"`
		ImagePullPolicy          string           `yaml:"imagePullPolicy"`
		Command                  []string         `yaml:"command"`
		Args                     []string         `yaml:"args"`
		Env                      []envVar         `yaml:"env"`
		Ports                    []containerPort  `yaml:"ports"`
		LivenessProbe            *probe           `yaml:"livenessProbe"`
		ReadinessProbe           *probe           `yaml:"readinessProbe"`
		StartupProbe             *probe           `yaml:"startupProbe"`
		Resources                resources        `yaml:"resources"`
		SecurityContext          *securityContext `yaml:"securityContext"`
		VolumeMounts             []volumeMount    `yaml:"volumeMounts"`
		Lifecycle                map[string]any   `yaml:"lifecycle"`
		WorkingDir               string           `yaml:"workingDir"`
		EnvFrom                  []map[string]any `yaml:"envFrom"`
		TerminationMessagePolicy string           `yaml:"terminationMessagePolicy"`
	}
	envVar struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom any    `yaml:"valueFrom"`
	}
	containerPort struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
		HostPort      int    `yaml:"hostPort"`
		Protocol      string `yaml:"protocol"`
	}
	probe struct {
		HTTPGet *struct {
			Host        string `yaml:"host"`
			Path        string `yaml:"path"`
			Port        any    `yaml:"port"`
			Scheme      string `yaml:"scheme"`
			HTTPHeaders []any  `yaml:"httpHeaders"`
		} `yaml:"httpGet"`
		Exec *struct {
			Command []string `yaml:"command"`
		} `yaml:"exec"`
		TCPSocket *struct {
			Host string `yaml:"host"`
			Port any    `yaml:"port"`
		} `yaml:"tcpSocket"`
		InitialDelaySeconds int `yaml:"initialDelaySeconds"`
		PeriodSeconds       int `yaml:"periodSeconds"`
		TimeoutSeconds      int `yaml:"timeoutSeconds"`
		SuccessThreshold    int `yaml:"successThreshold"`
		FailureThreshold    int `yaml:"failureThreshold"`
	}
	resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	}
	securityContext struct {
		RunAsUser                *int64          `yaml:"runAsUser"`
		RunAsGroup               *int64          `yaml:"runAsGroup"`
		RunAsNonRoot             *bool           `yaml:"runAsNonRoot"`
		Privileged               *bool           `yaml:"privileged"`
		AllowPrivilegeEscalation *bool           `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool           `yaml:"readOnlyRootFilesystem"`
		SeccompProfile           *seccompProfile `yaml:"seccompProfile"`
		Capabilities             *struct {
			Add  []string `yaml:"add"`
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	}
	volumeMount struct {
		Name             string `yaml:"name"`
		MountPath        string `yaml:"mountPath"`
		ReadOnly         bool   `yaml:"readOnly"`
		SubPath          string `yaml:"subPath"`
		MountPropagation string `yaml:"mountPropagation"`
	}
	volume struct {
		Name     string `yaml:"name"`
		HostPath *struct {
			Path string `yaml:"path"`
			Type string `yaml:"type"`
		} `yaml:"hostPath"`
		EmptyDir  map[string]any `yaml:"emptyDir"`
		Secret    map[string]any `yaml:"secret"`
		ConfigMap map[string]any `yaml:"configMap"`
		Projected map[string]any `yaml:"projected"`
	}
)

func (p *podSpec) container(name string) *container {
	for i := range p.Containers {
		if p.Containers[i].Name == name {
			return &p.Containers[i]
		}
	}
	return nil
}

func (p *podSpec) volume(name string) *volume {
	for i := range p.Volumes {
		if p.Volumes[i].Name == name {
			return &p.Volumes[i]
		}
	}
	return nil
}

// hostPathMount finds c's mount of the hostPath volume for one of paths.
func (p *podSpec) hostPathMount(c *container, paths ...string) (*volumeMount, *volume) {
	for i := range c.VolumeMounts {
		m := &c.VolumeMounts[i]
		v := p.volume(m.Name)
		if v != nil && v.HostPath != nil && slices.Contains(paths, path.Clean(v.HostPath.Path)) {
			return m, v
		}
	}
	return nil, nil
}

// within reports whether file lies inside dir (both absolute).
func within(file, dir string) bool {
	rel, err := filepath.Rel(path.Clean(dir), path.Clean(file))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

// loadDaemonSet returns the one DaemonSet, strictly decoded, and its node.
func loadDaemonSet(t *testing.T, docs []document) (*daemonSet, document) {
	t.Helper()
	dss := byKind(docs, "DaemonSet")
	if len(dss) != 1 {
		t.Fatalf("want exactly one DaemonSet under %s, found %d", filepath.Dir(docs[0].file), len(dss))
	}
	var ds daemonSet
	if err := strictDecode(dss[0].node, &ds); err != nil {
		t.Fatalf("%s: DaemonSet: %v", dss[0].file, err)
	}
	return &ds, dss[0]
}

func TestDaemonSetPod(t *testing.T) {
	for _, dir := range manifestDirs {
		t.Run(dir, func(t *testing.T) { testDaemonSetPod(t, dir) })
	}
}

func testDaemonSetPod(t *testing.T, kubeDir string) {
	docs := loadManifestsIn(t, kubeDir)
	ds, doc := loadDaemonSet(t, docs)
	pod := &ds.Spec.Template.Spec

	if ds.APIVersion != "apps/v1" {
		t.Errorf("DaemonSet apiVersion %q, want apps/v1", ds.APIVersion)
	}
	if len(ds.Spec.Selector.MatchLabels) == 0 {
		t.Error("DaemonSet has no selector.matchLabels")
	}
	for k, v := range ds.Spec.Selector.MatchLabels {
		if ds.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template's labels %v", k, v, ds.Spec.Template.Metadata.Labels)
		}
	}
	if !pod.HostNetwork {
		t.Error("hostNetwork must be true: representors, devlink and the loopback HTTP listener are in the node's network namespace")
	}
	if _, ok := pod.NodeSelector["node-role.kubernetes.io/dpu"]; !ok {
		t.Errorf("nodeSelector %v does not select DPU nodes (node-role.kubernetes.io/dpu)", pod.NodeSelector)
	}
	if len(pod.Tolerations) == 0 {
		t.Error("no tolerations: DPU nodes are commonly tainted")
	}
	if pod.SecurityContext == nil || pod.SecurityContext.SeccompProfile == nil || pod.SecurityContext.SeccompProfile.Type != "RuntimeDefault" {
		t.Error("pod securityContext.seccompProfile should be RuntimeDefault")
	}

	// The service account exists in the same set of manifests.
	var sas []string
	for _, d := range byKind(docs, "ServiceAccount") {
		sas = append(sas, d.name)
	}
	if pod.ServiceAccountName == "" || !slices.Contains(sas, pod.ServiceAccountName) {
		t.Errorf("serviceAccountName %q is not one of the ServiceAccounts defined under %s: %v", pod.ServiceAccountName, kubeDir, sas)
	}

	// Both containers (the sidecar alone in the sidecar-only variant),
	// each with requests and a memory limit.
	names := []string{controllerName, sidecarName}
	if kubeDir == sidecarOnlyDir {
		names = []string{sidecarName}
		if len(pod.Containers) != 1 {
			t.Errorf("%s: the sidecar-only pod has containers %v", kubeDir, containerNames(pod))
		}
	}
	for _, name := range names {
		c := pod.container(name)
		if c == nil {
			t.Fatalf("%s: the pod has no %q container (has %v)", doc.file, name, containerNames(pod))
		}
		if c.Image == "" {
			t.Errorf("container %s has no image", name)
		}
		if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" {
			t.Errorf("container %s: resources.requests needs cpu and memory, has %v", name, c.Resources.Requests)
		}
		if c.Resources.Limits["memory"] == "" {
			t.Errorf("container %s: resources.limits needs memory, has %v", name, c.Resources.Limits)
		}
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("container %s has no securityContext", name)
			continue
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("container %s is privileged; it needs only specific capabilities", name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: allowPrivilegeEscalation must be false", name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("container %s: capabilities must drop ALL and add back only what is needed", name)
		}
	}
	sc := pod.container(sidecarName)
	// A memory limit bounds a leak; no CPU limit, because CFS throttling
	// would stretch a burst of plugs (see the manifest's comment).
	if sc.Resources.Limits["memory"] == "" || sc.Resources.Limits["cpu"] != "" {
		t.Errorf("sidecar: resources.limits wants memory and no cpu, has %v", sc.Resources.Limits)
	}

	// Every mount names a volume, and volume names are unique.
	seen := map[string]bool{}
	for _, v := range pod.Volumes {
		if seen[v.Name] {
			t.Errorf("volume %q defined twice", v.Name)
		}
		seen[v.Name] = true
	}
	for _, c := range pod.Containers {
		for _, m := range c.VolumeMounts {
			if !seen[m.Name] {
				t.Errorf("container %s mounts undefined volume %q", c.Name, m.Name)
			}
			if !path.IsAbs(m.MountPath) {
				t.Errorf("container %s: mountPath %q is not absolute", c.Name, m.MountPath)
			}
		}
	}
}

func TestDaemonSetSidecar(t *testing.T) {
	for _, dir := range manifestDirs {
		t.Run(dir, func(t *testing.T) { testDaemonSetSidecar(t, dir) })
	}
}

func testDaemonSetSidecar(t *testing.T, kubeDir string) {
	flags := daemonFlags(t)
	docs := loadManifestsIn(t, kubeDir)
	ds, doc := loadDaemonSet(t, docs)
	pod := &ds.Spec.Template.Spec
	sc := pod.container(sidecarName)
	oc := pod.container(controllerName)
	if sc == nil || (oc == nil) != (kubeDir == sidecarOnlyDir) {
		t.Fatalf("%s: the pod has containers %v", kubeDir, containerNames(pod))
	}
	args := append(slices.Clone(sc.Command[min(1, len(sc.Command)):]), sc.Args...)

	// The command, if set, is the image's binary.
	if len(sc.Command) > 0 && path.Base(sc.Command[0]) != "ovn-vif-sidecar" {
		t.Errorf("sidecar command %v does not run ovn-vif-sidecar", sc.Command)
	}

	// Every flag, including those in commented-out example arguments,
	// exists in the daemon.
	used := map[string]string{}
	for _, a := range args {
		if n, ok := flagName(a); ok {
			used[n] = "args: " + a
		}
	}
	for _, a := range commentedArgs(t, doc.node, sidecarName) {
		if n, ok := flagName(a); ok {
			used[n] = "commented-out example: " + a
		}
	}
	if len(used) == 0 {
		t.Fatal("sidecar has no flags at all; expected at least --sysfs-root")
	}
	for n, where := range used {
		if _, ok := flags[n]; !ok {
			t.Errorf("sidecar %s: -%s is not a flag of ovn-vif-sidecar (see --help)", where, n)
		}
	}

	// Probes reach the HTTP listener: same port, and the loopback
	// listener is reachable only because of hostNetwork.
	httpAddr, ok := flagValue(args, "http-addr")
	if !ok {
		httpAddr = flags["http-addr"]
	}
	if httpAddr == "" {
		t.Fatal("the sidecar's HTTP listener is disabled (--http-addr empty); the probes need it")
	}
	lhost, lport, err := net.SplitHostPort(httpAddr)
	if err != nil {
		t.Fatalf("--http-addr %q: %v", httpAddr, err)
	}
	if lport != "9476" {
		t.Errorf("the sidecar listens on port %s, want 9476", lport)
	}
	for _, pc := range []struct {
		kind string
		p    *probe
		path string
	}{{"livenessProbe", sc.LivenessProbe, "/healthz"}, {"readinessProbe", sc.ReadinessProbe, "/readyz"}} {
		if pc.p == nil || pc.p.HTTPGet == nil {
			t.Errorf("sidecar has no %s.httpGet", pc.kind)
			continue
		}
		g := pc.p.HTTPGet
		if g.Path != pc.path {
			t.Errorf("sidecar %s path %q, want %s", pc.kind, g.Path, pc.path)
		}
		if port := probePort(sc, g.Port); port != lport {
			t.Errorf("sidecar %s port %v (%s), the daemon listens on %s", pc.kind, g.Port, port, httpAddr)
		}
		// $(VAR) is expanded by the kubelet: the pod IP, which with
		// hostNetwork is the node's address, where the probes (no host)
		// and Prometheus connect.
		if v, ok := strings.CutPrefix(lhost, "$("); ok {
			v = strings.TrimSuffix(v, ")")
			if !podIPEnv(sc, v) {
				t.Errorf("--http-addr %s: env %s is not the pod IP (valueFrom.fieldRef.fieldPath: status.podIP)", httpAddr, v)
			}
			if g.Host != "" {
				t.Errorf("sidecar %s host %q: the daemon listens on the pod IP, the probe's default", pc.kind, g.Host)
			}
		}
		loopback := lhost == "localhost" || net.ParseIP(lhost).IsLoopback()
		if loopback {
			if !pod.HostNetwork {
				t.Errorf("the daemon listens on loopback %s but the pod has no hostNetwork: the kubelet cannot probe it", httpAddr)
			}
			if g.Host == "" || !(g.Host == "localhost" || net.ParseIP(g.Host).IsLoopback()) {
				t.Errorf("sidecar %s host %q: the daemon listens only on %s", pc.kind, g.Host, httpAddr)
			}
		}
		if g.Scheme != "" && g.Scheme != "HTTP" {
			t.Errorf("sidecar %s scheme %q; the daemon serves plain HTTP", pc.kind, g.Scheme)
		}
	}

	// sysfs: the host's /sys, read-only, at the path --sysfs-root names.
	sysfsRoot, ok := flagValue(args, "sysfs-root")
	if !ok {
		sysfsRoot = flags["sysfs-root"]
	}
	if m, _ := pod.hostPathMount(sc, "/sys"); m != nil {
		if !m.ReadOnly {
			t.Errorf("sidecar mounts the host's /sys at %s read-write; it must be readOnly", m.MountPath)
		}
		if path.Clean(m.MountPath) != path.Clean(sysfsRoot) {
			t.Errorf("the host's /sys is mounted at %s but --sysfs-root is %q", m.MountPath, sysfsRoot)
		}
	} else {
		t.Errorf("sidecar does not mount the host's /sys (hostPath /sys), yet --sysfs-root is %q", sysfsRoot)
	}
	for _, c := range pod.Containers {
		if m, _ := pod.hostPathMount(&c, "/sys"); m != nil && !m.ReadOnly {
			t.Errorf("container %s mounts the host's /sys read-write", c.Name)
		}
	}

	// The OVS run directory is one hostPath volume that both containers
	// mount, and each one's database socket is inside its mount.
	ovsPaths := []string{"/var/run/openvswitch", "/run/openvswitch"}
	sm, sv := pod.hostPathMount(sc, ovsPaths...)
	if oc == nil { // sidecar-only: compare the sidecar with itself
		oc = sc
	}
	om, ov := pod.hostPathMount(oc, ovsPaths...)
	switch {
	case sm == nil || om == nil:
		t.Errorf("the OVS run directory (hostPath %v) must be mounted in both containers; sidecar: %v, ovn-controller: %v", ovsPaths, sm != nil, om != nil)
	case sv != ov:
		t.Errorf("the containers mount different volumes for the OVS run directory: %s and %s", sm.Name, om.Name)
	default:
		if sm.ReadOnly || om.ReadOnly {
			t.Error("the OVS run directory must not be read-only: the containers connect to sockets in it")
		}
		ovsDB, ok := flagValue(args, "ovs-db")
		if !ok {
			ovsDB = flags["ovs-db"]
		}
		sock, isUnix := strings.CutPrefix(ovsDB, "unix:")
		if !isUnix {
			t.Errorf("sidecar --ovs-db %q is not a unix: socket", ovsDB)
		} else if !within(sock, sm.MountPath) {
			t.Errorf("sidecar --ovs-db socket %s is not inside its OVS run directory mount %s", sock, sm.MountPath)
		}
		for _, a := range append(slices.Clone(oc.Command), oc.Args...) {
			if s, ok := strings.CutPrefix(a, "unix:"); ok && !within(s, om.MountPath) {
				t.Errorf("ovn-controller's database %s is not inside its OVS run directory mount %s", a, om.MountPath)
			}
		}
	}

	// Least privilege for the sidecar: root (db.sock is root-owned),
	// NET_ADMIN, at most NET_RAW besides, read-only root filesystem.
	sec := sc.SecurityContext
	if sec == nil {
		t.Fatal("sidecar has no securityContext")
	}
	if sec.RunAsUser == nil || *sec.RunAsUser != 0 {
		t.Error("sidecar must set runAsUser: 0 (the image defaults to 65532, and db.sock is owned by root)")
	}
	if sec.ReadOnlyRootFilesystem == nil || !*sec.ReadOnlyRootFilesystem {
		t.Error("sidecar: readOnlyRootFilesystem must be true; it writes nothing locally")
	}
	if sec.Capabilities == nil || !slices.Contains(sec.Capabilities.Add, "NET_ADMIN") {
		t.Error("sidecar must add NET_ADMIN (switchdev netlink/devlink queries)")
	} else {
		for _, c := range sec.Capabilities.Add {
			if c != "NET_ADMIN" && c != "NET_RAW" {
				t.Errorf("sidecar adds capability %s; only NET_ADMIN (and NET_RAW) are justified", c)
			}
		}
	}
}

// podIPEnv reports whether container c sets env name to the pod IP.
func podIPEnv(c *container, name string) bool {
	for _, e := range c.Env {
		if e.Name != name {
			continue
		}
		vf, _ := e.ValueFrom.(map[string]any)
		fr, _ := vf["fieldRef"].(map[string]any)
		return fr["fieldPath"] == "status.podIP"
	}
	return false
}

// commentedArgs returns the arguments in comments (lines like
// "# - --flag=value") attached to the args of the named container.
func commentedArgs(t *testing.T, doc *yaml.Node, name string) []string {
	t.Helper()
	containers := lookup(doc, "spec", "template", "spec", "containers")
	if containers == nil || containers.Kind != yaml.SequenceNode {
		t.Fatal("DaemonSet: spec.template.spec.containers is not a list")
	}
	var out []string
	re := regexp.MustCompile(`(?m)^#\s*-\s+(\S+)`)
	for _, c := range containers.Content {
		if n := lookup(c, "name"); n == nil || n.Value != name {
			continue
		}
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			for _, cm := range []string{n.HeadComment, n.LineComment, n.FootComment} {
				for _, m := range re.FindAllStringSubmatch(cm, -1) {
					out = append(out, m[1])
				}
			}
			for _, k := range n.Content {
				walk(k)
			}
		}
		if args := lookup(c, "args"); args != nil {
			walk(args)
		}
	}
	return out
}

// lookup follows mapping keys from n (a document or mapping node).
func lookup(n *yaml.Node, keys ...string) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
}

// probePort resolves an httpGet port (a number or a named container port).
func probePort(c *container, port any) string {
	switch p := port.(type) {
	case int:
		return strconv.Itoa(p)
	case string:
		if _, err := strconv.Atoi(p); err == nil {
			return p
		}
		for _, cp := range c.Ports {
			if cp.Name == p {
				return strconv.Itoa(cp.ContainerPort)
			}
		}
	}
	return fmt.Sprintf("unresolved %v", port)
}

func containerNames(p *podSpec) []string {
	var out []string
	for _, c := range p.Containers {
		out = append(out, c.Name)
	}
	return out
}

func TestKustomization(t *testing.T) {
	for _, dir := range manifestDirs {
		t.Run(dir, func(t *testing.T) { testKustomization(t, dir) })
	}
	// The sidecar-only variant's namespace and service account are the
	// bundled one's (kustomize cannot load files outside its directory).
	for _, f := range []string{"namespace.yaml", "serviceaccount.yaml"} {
		a, _ := os.ReadFile(filepath.Join(kubeDir, f))
		b, err := os.ReadFile(filepath.Join(sidecarOnlyDir, f))
		if err != nil || string(a) != string(b) {
			t.Errorf("%s/%s differs from %s/%s", sidecarOnlyDir, f, kubeDir, f)
		}
	}
}

func testKustomization(t *testing.T, kubeDir string) {
	docs := loadManifestsIn(t, kubeDir)
	ks := byKind(docs, "Kustomization")
	if len(ks) != 1 || filepath.Base(ks[0].file) != "kustomization.yaml" {
		t.Fatalf("want one Kustomization, in %s/kustomization.yaml; found %d", kubeDir, len(ks))
	}
	var k struct {
		Resources []string `yaml:"resources"`
		Images    []struct {
			Name    string `yaml:"name"`
			NewName string `yaml:"newName"`
			NewTag  string `yaml:"newTag"`
		} `yaml:"images"`
	}
	if err := ks[0].node.Decode(&k); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, r := range k.Resources {
		if listed[r] {
			t.Errorf("kustomization lists %s twice", r)
		}
		listed[r] = true
		if strings.Contains(r, "://") {
			continue
		}
		if _, err := os.Stat(filepath.Join(kubeDir, r)); err != nil {
			t.Errorf("kustomization lists %s, which does not exist: %v", r, err)
		}
	}
	files, err := os.ReadDir(kubeDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.IsDir() || !isYAML(f.Name()) || f.Name() == "kustomization.yaml" {
			continue
		}
		if !listed[f.Name()] {
			t.Errorf("%s/%s exists but kustomization.yaml does not list it", kubeDir, f.Name())
		}
	}

	// Image overrides that match no container do nothing, silently.
	ds, _ := loadDaemonSet(t, docs)
	var images []string
	for _, c := range append(slices.Clone(ds.Spec.Template.Spec.InitContainers), ds.Spec.Template.Spec.Containers...) {
		images = append(images, imageName(c.Image))
	}
	for _, img := range k.Images {
		if !slices.Contains(images, img.Name) {
			t.Errorf("kustomization images: %q matches no container image (have %v)", img.Name, images)
		}
	}
}

// imageName strips the tag or digest from an image reference.
func imageName(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

// ---------------------------------------------------------------------------
// systemd.

// unit is a parsed systemd unit: section -> key -> values, in order. An
// empty assignment resets the list, as systemd does for list settings.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, file string) unit {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	section := ""
	var pending string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if pending != "" {
			line = pending + " " + line
			pending = ""
		}
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			pending = strings.TrimSuffix(line, `\`)
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				t.Fatalf("%s:%d: bad section header %q", file, n, line)
			}
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			t.Fatalf("%s:%d: not a key=value in a section: %q", file, n, line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if v == "" {
			u[section][k] = nil
			continue
		}
		u[section][k] = append(u[section][k], v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// words splits every value of a list setting into words.
func (u unit) words(section, key string) []string {
	var out []string
	for _, v := range u[section][key] {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

func (u unit) last(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

func TestSystemdUnit(t *testing.T) {
	u := parseUnit(t, unitFile)
	for _, s := range []string{"Unit", "Service", "Install"} {
		if u[s] == nil {
			t.Errorf("%s has no [%s] section", unitFile, s)
		}
	}
	after, wants := u.words("Unit", "After"), u.words("Unit", "Wants")
	for _, dep := range []string{"openvswitch-switch.service", "ovn-host.service", "ovn-controller.service"} {
		if !slices.Contains(after, dep) {
			t.Errorf("After= %v lacks %s", after, dep)
		}
		if !slices.Contains(wants, dep) {
			t.Errorf("Wants= %v lacks %s", wants, dep)
		}
	}

	execStart := u.words("Service", "ExecStart")
	if len(u["Service"]["ExecStart"]) != 1 || len(execStart) == 0 {
		t.Fatalf("want exactly one ExecStart=, have %q", u["Service"]["ExecStart"])
	}
	bin := strings.TrimLeft(execStart[0], "-@:+!")
	if !path.IsAbs(bin) || path.Base(bin) != "ovn-vif-sidecar" {
		t.Errorf("ExecStart runs %q, want an absolute path to ovn-vif-sidecar", execStart[0])
	}
	if bin != "/usr/bin/ovn-vif-sidecar" {
		t.Errorf("ExecStart runs %s; the docs and the image install /usr/bin/ovn-vif-sidecar", bin)
	}
	if !slices.Contains(execStart[1:], "$OPTIONS") {
		t.Errorf("ExecStart %v must pass $OPTIONS unquoted (word-split)", execStart)
	}
	envFiles := u["Service"]["EnvironmentFile"]
	if !slices.Contains(envFiles, "-/etc/default/ovn-vif-sidecar") {
		t.Errorf("EnvironmentFile= %v lacks -/etc/default/ovn-vif-sidecar", envFiles)
	}
	if r := u.last("Service", "Restart"); r != "on-failure" {
		t.Errorf("Restart=%q, want on-failure", r)
	}

	// RestartPreventExitStatus=2 assumes the daemon exits 2 on a bad flag.
	if slices.Contains(u.words("Service", "RestartPreventExitStatus"), "2") {
		out, code := runDaemon(t, "--no-such-flag-for-deploy-test")
		if code != 2 {
			t.Errorf("RestartPreventExitStatus=2, but a bad flag makes the daemon exit %d:\n%s", code, out)
		}
	}

	// Hardening must leave what the daemon needs.
	if v := u.last("Service", "User"); v != "" && v != "root" && v != "0" {
		t.Errorf("User=%s: db.sock is owned by root; see the unit's comments", v)
	}
	if caps := u.words("Service", "CapabilityBoundingSet"); len(caps) > 0 && !slices.Contains(caps, "CAP_NET_ADMIN") {
		t.Errorf("CapabilityBoundingSet=%v drops CAP_NET_ADMIN", caps)
	}
	if fams := u.words("Service", "RestrictAddressFamilies"); len(fams) > 0 {
		for _, f := range []string{"AF_UNIX", "AF_NETLINK", "AF_INET", "AF_INET6"} {
			if !slices.Contains(fams, f) {
				t.Errorf("RestrictAddressFamilies=%v lacks %s", fams, f)
			}
		}
	}
	for _, k := range []string{"PrivateNetwork", "PrivateUsers"} {
		if isTrue(u.last("Service", k)) {
			t.Errorf("%s=yes hides the host network or root ownership the daemon needs", k)
		}
	}
	if ps := u.last("Service", "ProtectSystem"); ps == "strict" {
		rw := u.words("Service", "ReadWritePaths")
		ok := false
		for _, p := range rw {
			p = strings.TrimLeft(p, "-+")
			if p == "/run/openvswitch" || p == "/var/run/openvswitch" {
				ok = true
			}
		}
		if !ok {
			t.Errorf("ProtectSystem=strict without ReadWritePaths= for the OVS run directory (have %v)", rw)
		}
	}
	if ks := u.last("Service", "ProtectKernelTunables"); isTrue(ks) {
		// Read-only /sys is fine; an InaccessiblePaths=/sys would not be.
		for _, p := range u.words("Service", "InaccessiblePaths") {
			if strings.HasPrefix(strings.TrimLeft(p, "-+"), "/sys") {
				t.Errorf("InaccessiblePaths=%s hides sysfs", p)
			}
		}
	}

	// Flags given directly on ExecStart exist.
	flags := daemonFlags(t)
	for _, a := range execStart[1:] {
		if n, ok := flagName(a); ok {
			if _, ok := flags[n]; !ok {
				t.Errorf("ExecStart passes %s, which is not a flag of ovn-vif-sidecar", a)
			}
		}
	}
}

func isTrue(v string) bool {
	switch strings.ToLower(v) {
	case "1", "yes", "true", "on":
		return true
	}
	return false
}

// flagToken finds --flags in free text: option words after a space,
// quote, backquote, bracket, '=' or line start, so that "ovn-vif-sidecar"
// is not one.
var flagToken = regexp.MustCompile("(?:^|[\\s\"'=(\\[`])--([A-Za-z][A-Za-z0-9_.-]*)")

func TestSystemdDefaultFile(t *testing.T) {
	data, err := os.ReadFile(defaultFile)
	if err != nil {
		t.Fatal(err)
	}
	// OPTIONS is set (uncommented) so that $OPTIONS expands to nothing
	// rather than to a literal when the file is installed unchanged.
	var options []string
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "OPTIONS="); ok {
			options = append(options, v)
		}
	}
	if len(options) != 1 {
		t.Fatalf("%s: want exactly one uncommented OPTIONS= line, have %d", defaultFile, len(options))
	}
	v := options[0]
	if uq, err := strconv.Unquote(v); err == nil {
		v = uq
	} else if strings.HasPrefix(v, `"`) {
		t.Errorf("%s: OPTIONS=%s is not a well-formed quoted string", defaultFile, options[0])
	}
	// Everything in this file, comments included, is about the daemon's
	// flags, so every --flag mentioned anywhere must exist.
	flags := daemonFlags(t)
	mentioned := map[string]bool{}
	for _, m := range flagToken.FindAllStringSubmatch(string(data), -1) {
		mentioned[m[1]] = true
	}
	for _, w := range strings.Fields(v) {
		if n, ok := flagName(w); ok {
			mentioned[n] = true
		}
	}
	if len(mentioned) == 0 {
		t.Fatalf("%s mentions no flags at all", defaultFile)
	}
	for n := range mentioned {
		if _, ok := flags[n]; !ok && n != "help" {
			t.Errorf("%s mentions --%s, which is not a flag of ovn-vif-sidecar (see --help)", defaultFile, n)
		}
	}
	// And it documents every daemon flag except klog's.
	for n := range flags {
		if isKlogFlag(n) {
			continue
		}
		if !mentioned[n] {
			t.Errorf("%s does not document --%s", defaultFile, n)
		}
	}
}

// isKlogFlag reports whether a flag comes from klog.InitFlags (which the
// daemon merges into its own flag set) rather than from the daemon itself.
func isKlogFlag(n string) bool {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	return fs.Lookup(n) != nil
}

// ---------------------------------------------------------------------------
// Containerfile.

type instruction struct {
	cmd  string // upper case
	args string
	line int
}

type stage struct {
	image string
	name  string
	ins   []instruction
}

// parseContainerfile returns the stages (ARG defaults before the first
// FROM expanded into FROM lines) after joining continuation lines and
// dropping comments, as the Dockerfile parser does.
func parseContainerfile(t *testing.T) []stage {
	t.Helper()
	data, err := os.ReadFile(containerfile)
	if err != nil {
		t.Fatal(err)
	}
	var ins []instruction
	var cur strings.Builder
	start := 0
	for n, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") {
			continue
		}
		if line == "" && cur.Len() == 0 {
			continue
		}
		if cur.Len() == 0 {
			start = n + 1
		}
		cont := strings.HasSuffix(line, `\`)
		cur.WriteString(strings.TrimSuffix(line, `\`))
		if cont {
			cur.WriteString(" ")
			continue
		}
		full := strings.TrimSpace(cur.String())
		cur.Reset()
		if full == "" {
			continue
		}
		cmd, args, _ := strings.Cut(full, " ")
		ins = append(ins, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start})
	}
	if cur.Len() > 0 {
		t.Fatalf("%s ends inside a continued line", containerfile)
	}

	globalArgs := map[string]string{}
	var stages []stage
	for _, in := range ins {
		switch {
		case in.cmd == "FROM":
			f := strings.Fields(in.args)
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				f = f[1:]
			}
			if len(f) == 0 {
				t.Fatalf("%s:%d: FROM without an image", containerfile, in.line)
			}
			s := stage{image: os.Expand(f[0], func(k string) string { return globalArgs[k] })}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
		case len(stages) == 0:
			if in.cmd != "ARG" {
				t.Fatalf("%s:%d: %s before the first FROM", containerfile, in.line, in.cmd)
			}
			k, v, _ := strings.Cut(in.args, "=")
			globalArgs[k] = strings.Trim(v, `"`)
		default:
			stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
		}
	}
	return stages
}

func TestContainerfile(t *testing.T) {
	stages := parseContainerfile(t)
	if len(stages) < 2 {
		t.Fatalf("%s has %d FROM stages, want a builder and a runtime stage", containerfile, len(stages))
	}
	final := stages[len(stages)-1]

	// The Go builder's version follows go.mod's go directive.
	goVer := goModVersion(t)
	builderIdx := -1
	for i, s := range stages[:len(stages)-1] {
		if strings.HasPrefix(s.image, "golang:") || strings.HasPrefix(s.image, "docker.io/library/golang:") {
			builderIdx = i
			_, tag, _ := strings.Cut(strings.TrimPrefix(s.image, "docker.io/library/"), ":")
			if !strings.HasPrefix(tag, goVer) || (len(tag) > len(goVer) && tag[len(goVer)] != '.' && tag[len(goVer)] != '-') {
				t.Errorf("builder image %s does not match go.mod's go %s", s.image, goVer)
			}
		}
	}
	if builderIdx < 0 {
		t.Fatalf("no golang builder stage before the final stage (stages: %v)", stageImages(stages))
	}
	builder := stages[builderIdx]
	if strings.HasPrefix(final.image, "golang:") {
		t.Errorf("the final stage is the Go toolchain image %s; want a minimal runtime", final.image)
	}

	// The build: static, trimmed, version-stamped, of the daemon.
	var build string
	cgoEnv := false
	for _, in := range builder.ins {
		if in.cmd == "ENV" && regexp.MustCompile(`\bCGO_ENABLED[= ]0\b`).MatchString(in.args) {
			cgoEnv = true
		}
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			if build != "" {
				t.Errorf("builder stage has more than one go build RUN")
			}
			build = in.args
		}
	}
	if build == "" {
		t.Fatal("builder stage has no RUN ... go build")
	}
	if !cgoEnv && !regexp.MustCompile(`(^|\s)CGO_ENABLED=0\s`).MatchString(build) {
		t.Errorf("go build is not run with CGO_ENABLED=0: %s", build)
	}
	for _, want := range []string{"-trimpath", "./cmd/ovn-vif-sidecar", "-X " + appPkg + ".Version=", "-X " + appPkg + ".Revision="} {
		if !strings.Contains(build, want) {
			t.Errorf("go build lacks %s: %s", want, build)
		}
	}
	ld := regexp.MustCompile(`-ldflags[= ]("[^"]*"|'[^']*'|\S+)`).FindStringSubmatch(build)
	if ld == nil {
		t.Errorf("go build has no -ldflags: %s", build)
	} else {
		words := strings.Fields(strings.Trim(ld[1], `"'`))
		if !slices.Contains(words, "-s") || !slices.Contains(words, "-w") {
			t.Errorf("-ldflags %s lacks -s -w", ld[1])
		}
	}
	out := regexp.MustCompile(`\s-o[= ](\S+)`).FindStringSubmatch(build)
	if out == nil {
		t.Fatalf("go build has no -o: %s", build)
	}
	binPath := out[1]

	// The final stage copies that binary from the builder and runs it as
	// a non-root user by default.
	var dest, user, entry string
	for _, in := range final.ins {
		switch in.cmd {
		case "COPY":
			f := strings.Fields(in.args)
			from := ""
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				if v, ok := strings.CutPrefix(f[0], "--from="); ok {
					from = v
				}
				f = f[1:]
			}
			if len(f) == 2 && f[0] == binPath && (from == builder.name || from == strconv.Itoa(builderIdx)) {
				dest = f[1]
				if strings.HasSuffix(dest, "/") {
					dest += path.Base(binPath)
				}
			}
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			var ep []string
			if err := json.Unmarshal([]byte(in.args), &ep); err != nil || len(ep) == 0 {
				t.Errorf("ENTRYPOINT %s is not in exec (JSON) form", in.args)
			} else {
				entry = ep[0]
			}
		}
	}
	if dest == "" {
		t.Errorf("the final stage does not COPY --from=%s %s", builder.name, binPath)
	}
	if entry == "" || entry != dest {
		t.Errorf("ENTRYPOINT runs %q, but the binary is copied to %q", entry, dest)
	}
	if user == "" {
		t.Error("the final stage sets no USER")
	} else if uid, _, _ := strings.Cut(user, ":"); uid == "0" || uid == "root" {
		t.Errorf("USER %s: the image should default to non-root (run as root where db.sock requires it)", user)
	}

	// The DaemonSet relies on this entrypoint when it sets only args.
	ds, _ := loadDaemonSet(t, loadManifests(t))
	if c := ds.Spec.Template.Spec.container(sidecarName); c != nil && len(c.Command) > 0 && c.Command[0] != dest {
		t.Errorf("the DaemonSet runs %s, the image installs %s", c.Command[0], dest)
	}
}

// goModVersion returns go.mod's go directive as major.minor.
func goModVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(goModFile)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go\s+(\d+)\.(\d+)`).FindStringSubmatch(string(data))
	if m == nil {
		t.Fatalf("%s has no go directive", goModFile)
	}
	return m[1] + "." + m[2]
}

func stageImages(stages []stage) []string {
	var out []string
	for _, s := range stages {
		out = append(out, s.image)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ---------------------------------------------------------------------------
// The operator pages stay accurate to the code they document: flags and
// subcommands in configure.md, metrics in monitor.md, port states in
// troubleshoot.md.

const (
	configureDoc    = "../docs/configure.md"
	monitorDoc      = "../docs/monitor.md"
	troubleshootDoc = "../docs/troubleshoot.md"
	metricsSource   = "../sidecar/metrics.go"
	statesSource    = "../sidecar/plan/plan.go"
)

func readDoc(t *testing.T, path string) (doc string, lines []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data), strings.Split(string(data), "\n")
}

func TestOperatorDocs(t *testing.T) {
	_, lines := readDoc(t, configureDoc)

	// The daemon flags table lists exactly the daemon's own flags.
	flags := daemonFlags(t)
	tableRow := regexp.MustCompile("^\\| `--([A-Za-z][A-Za-z0-9_.-]*)`")
	documented := map[string]bool{}
	for _, l := range lines {
		if m := tableRow.FindStringSubmatch(l); m != nil {
			documented[m[1]] = true
		}
	}
	if len(documented) == 0 {
		t.Fatalf("%s has no flag table rows (| `--flag` | …)", configureDoc)
	}
	for n := range documented {
		if _, ok := flags[n]; !ok {
			t.Errorf("%s documents --%s, which the daemon does not have", configureDoc, n)
		}
	}
	for n := range flags {
		if !isKlogFlag(n) && !documented[n] {
			t.Errorf("%s does not document daemon flag --%s", configureDoc, n)
		}
	}

	// Subcommand rows (| `ovn-vif-sidecar SUB ...` |) name only flags
	// that SUB accepts.
	subRow := regexp.MustCompile("^\\| `ovn-vif-sidecar (status|hw)\\b")
	subRows := 0
	for _, l := range lines {
		m := subRow.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		subRows++
		out, _ := runDaemon(t, m[1], "--help")
		sub := parseFlagHelp(out)
		if len(sub) == 0 {
			t.Errorf("`ovn-vif-sidecar %s --help` lists no flags:\n%s", m[1], out)
			continue
		}
		for _, f := range flagToken.FindAllStringSubmatch(l, -1) {
			if _, ok := sub[f[1]]; !ok && f[1] != "help" {
				t.Errorf("%s: `ovn-vif-sidecar %s` has no flag --%s", configureDoc, m[1], f[1])
			}
		}
	}
	if subRows < 2 {
		t.Errorf("%s has %d subcommand rows (| `ovn-vif-sidecar status …` |), want status and hw", configureDoc, subRows)
	}

	// Every metric the engine defines is documented under its full name.
	doc, _ := readDoc(t, monitorDoc)
	src, err := os.ReadFile(metricsSource)
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`Name:\s*"([a-z0-9_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(names) == 0 {
		t.Fatalf("found no metric names in %s", metricsSource)
	}
	for _, n := range names {
		full := "ovn_vif_sidecar_" + n[1]
		if !strings.Contains(doc, "`"+full+"`") {
			t.Errorf("%s does not document metric %s", monitorDoc, full)
		}
	}

	// Every port state has its own troubleshooting section.
	_, lines = readDoc(t, troubleshootDoc)
	src, err = os.ReadFile(statesSource)
	if err != nil {
		t.Fatal(err)
	}
	states := regexp.MustCompile(`State[A-Za-z]+\s+State = "([a-z-]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(states) == 0 {
		t.Fatalf("found no State constants in %s", statesSource)
	}
	for _, s := range states {
		if !slices.Contains(lines, "### `"+s[1]+"`") {
			t.Errorf("%s has no troubleshooting section \"### `%s`\"", troubleshootDoc, s[1])
		}
	}
}
