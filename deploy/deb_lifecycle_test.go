//go:build root

package deploy

import (
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// debRoot is a throwaway dpkg root: dpkg --root with chrootless
// maintainer scripts, so the system's dpkg database is never touched.
// systemctl and deb-systemd-invoke are fakes that record their calls;
// deb-systemd-helper records and then runs the real one, which honours
// $DPKG_ROOT, so the enable links and its state are real files.
type debRoot struct {
	t           *testing.T
	root, calls string
	env         []string
}

const unitName = "ovn-vif-sidecar.service"

func newDebRoot(t *testing.T, systemdRunning bool) *debRoot {
	t.Helper()
	for _, tool := range []string{"dpkg", "dpkg-query", "deb-systemd-helper"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to test the package's maintainer scripts: %v", tool, err)
		}
	}
	if os.Geteuid() != 0 {
		t.Fatal("installing into a dpkg root needs root (file ownership); make test runs as root")
	}
	dir := t.TempDir()
	r := &debRoot{t: t, root: filepath.Join(dir, "root"), calls: filepath.Join(dir, "calls")}
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"} {
		if err := os.MkdirAll(filepath.Join(r.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(r.root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if systemdRunning {
		if err := os.MkdirAll(filepath.Join(r.root, "run/systemd/system"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fake := filepath.Join(dir, "bin")
	if err := os.Mkdir(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	realHelper, _ := exec.LookPath("deb-systemd-helper")
	for name, body := range map[string]string{
		"systemctl":          `echo "systemctl $*" >>"$FAKE_CALLS"`,
		"deb-systemd-invoke": `echo "deb-systemd-invoke $*" >>"$FAKE_CALLS"`,
		"deb-systemd-helper": `echo "deb-systemd-helper $*" >>"$FAKE_CALLS"
[ -n "$DPKG_ROOT" ] || { echo "deb-systemd-helper without DPKG_ROOT would change the real system" >&2; exit 1; }
exec ` + realHelper + ` "$@"`,
	} {
		if err := os.WriteFile(filepath.Join(fake, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r.env = append(os.Environ(), "PATH="+fake+":"+os.Getenv("PATH"), "FAKE_CALLS="+r.calls)
	return r
}

// dpkg runs dpkg in the root and returns the calls the maintainer
// scripts made.
func (r *debRoot) dpkg(args ...string) []string {
	r.t.Helper()
	if err := os.WriteFile(r.calls, nil, 0o644); err != nil {
		r.t.Fatal(err)
	}
	// ovn-host is not in the throwaway root, hence --force-depends.
	all := append([]string{"--root=" + r.root, "--force-script-chrootless", "--force-depends",
		"--log=" + filepath.Join(filepath.Dir(r.root), "dpkg.log")}, args...)
	cmd := exec.Command("dpkg", all...)
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	data, err := os.ReadFile(r.calls)
	if err != nil {
		r.t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

func (r *debRoot) status() string {
	r.t.Helper()
	out, _ := exec.Command("dpkg-query", "--root="+r.root, "-W", "-f=${Version} ${db:Status-Abbrev}", "ovn-vif-sidecar").CombinedOutput()
	return strings.TrimSpace(string(out))
}

func (r *debRoot) path(p string) string { return filepath.Join(r.root, p) }

func (r *debRoot) exists(p string) bool {
	_, err := os.Lstat(r.path(p))
	return err == nil
}

const wantsLink = "etc/systemd/system/multi-user.target.wants/" + unitName

// buildDebs builds one package per git version with mkdeb.sh from the
// test binary, and returns their paths and Debian versions.
func buildDebs(t *testing.T, gitVersions ...string) (debs, versions []string) {
	t.Helper()
	bin := daemonBin(t)
	out := t.TempDir()
	for _, gv := range gitVersions {
		cmd := exec.Command("sh", mkdeb, bin, gv, strings.Repeat("0", 40), out, bin)
		cmd.Env = append(os.Environ(), "DEB_COMPRESSION=none") // xz of the binary is most of the time
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("mkdeb.sh %s: %v", gv, err)
		}
		debs = append(debs, strings.TrimSpace(string(b)))
		v, err := exec.Command("sh", mkdeb, "--debversion", gv).Output()
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, strings.TrimSpace(string(v)))
	}
	return debs, versions
}

func hasCall(calls []string, want string) bool { return slices.Contains(calls, want) }

// Install, enable, two upgrades, remove and purge behave as
// dh_installsystemd --no-start makes Debian's daemons behave, and purge
// leaves nothing behind.
func TestDebLifecycle(t *testing.T) {
	debs, versions := buildDebs(t, "v1.0.0", "v1.1.0", "v1.2.0")
	t.Run("systemd", func(t *testing.T) { testDebLifecycle(t, debs, versions) })
	t.Run("no systemd", func(t *testing.T) { testDebLifecycleWithoutSystemd(t, debs) })
}

func testDebLifecycle(t *testing.T, debs, versions []string) {
	r := newDebRoot(t, true)

	// Install: enabled, systemd reloaded, not started.
	calls := r.dpkg("-i", debs[0])
	for _, want := range []string{"deb-systemd-helper --quiet was-enabled " + unitName, "deb-systemd-helper enable " + unitName, "systemctl --system daemon-reload"} {
		if !hasCall(calls, want) {
			t.Errorf("install: no %q in %q", want, calls)
		}
	}
	for _, c := range calls {
		if strings.HasPrefix(c, "deb-systemd-invoke ") {
			t.Errorf("install started or restarted the service (%q); it must wait for the operator", c)
		}
	}
	if target, err := os.Readlink(r.path(wantsLink)); err != nil || target != "/lib/systemd/system/"+unitName {
		t.Errorf("install: %s -> %q (%v), want the enable link to /lib/systemd/system/%s", wantsLink, target, err, unitName)
	}
	if got := r.status(); got != versions[0]+" ii" {
		t.Errorf("after install dpkg-query says %q", got)
	}
	// The README and every page under docs/, laid out as in the source
	// tree, gzipped above 4 KiB.
	pages, _ := filepath.Glob("../docs/*.md")
	for _, p := range append(pages, "../README.md") {
		doc := "usr/share/doc/ovn-vif-sidecar/" + strings.TrimPrefix(p, "../")
		if !r.exists(doc) && !r.exists(doc+".gz") {
			t.Errorf("install: neither /%s nor /%s.gz", doc, doc)
		}
	}
	if len(pages) == 0 {
		t.Error("found no docs/*.md to check")
	}

	// The operator configures it; the upgrade keeps that, restarts a
	// running service and leaves the unit enabled.
	defaults := r.path("etc/default/ovn-vif-sidecar")
	const edited = "OPTIONS=\"--http-addr=192.0.2.5:9476\"\n"
	if err := os.WriteFile(defaults, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	calls = r.dpkg("-i", debs[1])
	for _, want := range []string{"deb-systemd-helper enable " + unitName, "systemctl --system daemon-reload", "deb-systemd-invoke try-restart " + unitName} {
		if !hasCall(calls, want) {
			t.Errorf("upgrade: no %q in %q", want, calls)
		}
	}
	if hasCall(calls, "deb-systemd-invoke stop "+unitName) || hasCall(calls, "deb-systemd-invoke start "+unitName) {
		t.Errorf("upgrade stopped or started the service instead of try-restart: %q", calls)
	}
	if !r.exists(wantsLink) {
		t.Error("upgrade removed the enable link")
	}
	if got, _ := os.ReadFile(defaults); string(got) != edited {
		t.Errorf("upgrade replaced the operator's /etc/default/ovn-vif-sidecar: %q", got)
	}

	// systemctl disable survives the next upgrade.
	if err := os.Remove(r.path(wantsLink)); err != nil {
		t.Fatal(err)
	}
	calls = r.dpkg("-i", debs[2])
	if !hasCall(calls, "deb-systemd-helper update-state "+unitName) || hasCall(calls, "deb-systemd-helper enable "+unitName) {
		t.Errorf("upgrade of a disabled unit: want update-state and no enable, got %q", calls)
	}
	if r.exists(wantsLink) {
		t.Error("upgrade re-enabled a unit the operator disabled")
	}
	if got := r.status(); got != versions[2]+" ii" {
		t.Errorf("after two upgrades dpkg-query says %q, want %s ii", got, versions[2])
	}

	// Enabled again by hand (systemctl enable), then removed: stopped,
	// systemd reloaded, the configuration kept.
	if err := os.Symlink("/lib/systemd/system/"+unitName, r.path(wantsLink)); err != nil {
		t.Fatal(err)
	}
	calls = r.dpkg("--remove", "ovn-vif-sidecar")
	for _, want := range []string{"deb-systemd-invoke stop " + unitName, "systemctl --system daemon-reload"} {
		if !hasCall(calls, want) {
			t.Errorf("remove: no %q in %q", want, calls)
		}
	}
	if r.exists("usr/bin/ovn-vif-sidecar") || r.exists("lib/systemd/system/"+unitName) {
		t.Error("remove left the binary or the unit")
	}
	if !r.exists("etc/default/ovn-vif-sidecar") {
		t.Error("remove deleted the conffile; only purge may")
	}

	// Purge: the enable links, deb-systemd-helper's state, the mask and
	// the conffile go; nothing is left but empty directories.
	calls = r.dpkg("--purge", "ovn-vif-sidecar")
	if !hasCall(calls, "deb-systemd-helper purge "+unitName) {
		t.Errorf("purge: no deb-systemd-helper purge in %q", calls)
	}
	if got := r.status(); strings.Contains(got, "ii") || strings.Contains(got, "rc") {
		t.Errorf("after purge dpkg-query says %q", got)
	}
	r.assertEmpty()
}

// Without systemd (a container, a chroot) the scripts leave systemd
// alone but still manage the enable links, and purge cleans up.
func testDebLifecycleWithoutSystemd(t *testing.T, debs []string) {
	r := newDebRoot(t, false)
	for _, step := range [][]string{{"-i", debs[0]}, {"-i", debs[1]}, {"--remove", "ovn-vif-sidecar"}, {"--purge", "ovn-vif-sidecar"}} {
		for _, c := range r.dpkg(step...) {
			if strings.HasPrefix(c, "systemctl ") || strings.HasPrefix(c, "deb-systemd-invoke ") {
				t.Errorf("dpkg %v without systemd called %q", step, c)
			}
		}
		if step[0] == "-i" && !r.exists(wantsLink) {
			t.Errorf("dpkg %v: the unit is not enabled", step)
		}
	}
	r.assertEmpty()
}

// assertEmpty fails for anything in the root but dpkg's own database and
// empty directories.
func (r *debRoot) assertEmpty() {
	r.t.Helper()
	err := filepath.WalkDir(r.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(r.root, path)
		if rel == "var/lib/dpkg" {
			return filepath.SkipDir
		}
		if !d.IsDir() || strings.Contains(rel, "ovn-vif-sidecar") {
			r.t.Errorf("left behind after purge: /%s", rel)
		}
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	left, _ := filepath.Glob(r.path("var/lib/dpkg/info/ovn-vif-sidecar.*"))
	if len(left) > 0 {
		r.t.Errorf("dpkg still holds %v", left)
	}
}

// The defaults file's examples bind the HTTP listener (no authentication)
// to one address, never to every address.
func TestDefaultsFileBindsOneAddress(t *testing.T) {
	data, err := os.ReadFile(defaultFile)
	if err != nil {
		t.Fatal(err)
	}
	addrs := regexp.MustCompile(`--http-addr=(\S*?)["\s]`).FindAllStringSubmatch(string(data), -1)
	if len(addrs) == 0 {
		t.Fatalf("%s shows no --http-addr=ADDR example", defaultFile)
	}
	for _, m := range addrs {
		host, _, err := net.SplitHostPort(m[1])
		if ip := net.ParseIP(host); err != nil || host == "" || (ip != nil && ip.IsUnspecified()) {
			t.Errorf("%s: --http-addr=%s binds every address (or none); bind one management address", defaultFile, m[1])
		}
	}
	if !strings.Contains(string(data), `#OPTIONS="--http-addr=192.0.2.5:9476"`) {
		t.Errorf("%s lacks the management-address example", defaultFile)
	}
}
