package deploy

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const mkdeb = "debian/mkdeb.sh"

// The Debian version of a git describe starts with a digit and sorts
// like the tags do.
func TestDebVersion(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.3":                  "1.2.3",
		"1.2.3":                   "1.2.3",
		"v1.2.3-4-gabcdef0":       "1.2.3+4.gabcdef0",
		"v1.2.3-4-gabcdef0-dirty": "1.2.3+4.gabcdef0.dirty",
		"v1.2.3-dirty":            "1.2.3+dirty",
		"v0.2.0-rc1":              "0.2.0~rc1",
		"abcdef0":                 "0.0.0+gabcdef0",
		"6835aee-dirty":           "0.0.0+g6835aee.dirty",
	} {
		out, err := exec.Command("sh", mkdeb, "--debversion", in).CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != want {
			t.Errorf("debversion %s = %q (%v), want %s", in, got, err, want)
		}
	}
}

// make deb builds the package; its contents are what an operator installs.
func TestDebPackage(t *testing.T) {
	for _, tool := range []string{"make", "dpkg-deb", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to build the package (make deps installs dpkg-deb): %v", tool, err)
		}
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-s", "-C", "..", "deb", "DEB_OUT="+out)
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make deb: %v\n%s", err, log)
	}
	debs, _ := filepath.Glob(filepath.Join(out, "*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb wrote %v, want one .deb\n%s", debs, log)
	}
	deb := debs[0]
	m := regexp.MustCompile(`^ovn-vif-sidecar_([0-9][A-Za-z0-9.+~]*)_([a-z0-9]+)\.deb$`).FindStringSubmatch(filepath.Base(deb))
	if m == nil {
		t.Fatalf("package name %s is not ovn-vif-sidecar_<version>_<arch>.deb with a Debian version", filepath.Base(deb))
	}
	version, arch := m[1], m[2]

	field := func(name string) string {
		out, err := exec.Command("dpkg-deb", "--field", deb, name).Output()
		if err != nil {
			t.Fatalf("dpkg-deb --field %s: %v", name, err)
		}
		return strings.TrimSpace(string(out))
	}
	for name, want := range map[string]string{"Package": "ovn-vif-sidecar", "Version": version, "Architecture": arch, "Depends": "ovn-host"} {
		if got := field(name); got != want {
			t.Errorf("control %s = %q, want %q", name, got, want)
		}
	}
	conffiles, err := exec.Command("sh", "-c", "dpkg-deb --ctrl-tarfile \"$1\" | tar -xOf - ./conffiles", "sh", deb).Output()
	if err != nil || strings.TrimSpace(string(conffiles)) != "/etc/default/ovn-vif-sidecar" {
		t.Errorf("conffiles = %q (%v), want /etc/default/ovn-vif-sidecar", conffiles, err)
	}

	root := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	bin := filepath.Join(root, "usr/bin/ovn-vif-sidecar")
	vout, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v\n%s", bin, err, vout)
	}
	// The binary carries git's version; the package's is derived from it.
	gitVersion := regexp.MustCompile(`^ovn-vif-sidecar (\S+) revision ([0-9a-f]{40}) go\S+\n$`).FindStringSubmatch(string(vout))
	if gitVersion == nil || gitVersion[1] == "dev" {
		t.Fatalf("`ovn-vif-sidecar version` from the package printed %q; want a stamped version and revision", vout)
	}
	if dv, err := exec.Command("sh", mkdeb, "--debversion", gitVersion[1]).Output(); err != nil || strings.TrimSpace(string(dv)) != version {
		t.Errorf("binary version %s maps to %q, but the package is %s", gitVersion[1], dv, version)
	}
	for pkgPath, src := range map[string]string{
		"lib/systemd/system/ovn-vif-sidecar.service": unitFile,
		"etc/default/ovn-vif-sidecar":                defaultFile,
	} {
		got, err := os.ReadFile(filepath.Join(root, pkgPath))
		want, _ := os.ReadFile(src)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("/%s in the package differs from %s (%v)", pkgPath, src, err)
		}
	}
	unit, _ := os.ReadFile(filepath.Join(root, "lib/systemd/system/ovn-vif-sidecar.service"))
	for _, want := range []string{"ExecStart=/usr/bin/ovn-vif-sidecar $OPTIONS", "EnvironmentFile=-/etc/default/ovn-vif-sidecar", "RestartPreventExitStatus=2"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the packaged unit lacks %q", want)
		}
	}
	if fi, err := os.Stat(bin); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("/usr/bin/ovn-vif-sidecar mode %v (%v), want 0755", fi.Mode(), err)
	}

	// The man page is made from --help: every daemon flag is in it.
	f, err := os.Open(filepath.Join(root, "usr/share/man/man8/ovn-vif-sidecar.8.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	man, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(man), ".TH OVN-VIF-SIDECAR 8 ") {
		t.Errorf("man page does not start with .TH:\n%.200s", man)
	}
	for name := range daemonFlags(t) {
		if !strings.Contains(string(man), "  -"+name) {
			t.Errorf("man page lacks flag -%s", name)
		}
	}
	for _, want := range []string{"EXIT STATUS", "/etc/default/ovn-vif-sidecar", `.SS "status"`, `.SS "hw"`} {
		if !strings.Contains(string(man), want) {
			t.Errorf("man page lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "usr/share/doc/ovn-vif-sidecar/copyright")); err != nil {
		t.Error(err)
	}
	// Every page is shipped, and SEE ALSO names each by its installed path.
	_, seeAlso, _ := strings.Cut(string(man), ".SH SEE ALSO")
	named := 0
	for _, l := range strings.Split(seeAlso, "\n") {
		if p, ok := strings.CutPrefix(l, ".I /usr/share/doc/"); ok {
			named++
			if _, err := os.Stat(filepath.Join(root, "usr/share/doc", p)); err != nil {
				t.Errorf("man page SEE ALSO names /usr/share/doc/%s, which the package does not hold", p)
			}
		}
	}
	pages, _ := filepath.Glob("../docs/*.md")
	if named != len(pages)+1 {
		t.Errorf("man page SEE ALSO names %d documents, want README.md and %d pages", named, len(pages))
	}
	for _, p := range pages {
		at := filepath.Join(root, "usr/share/doc/ovn-vif-sidecar/docs", filepath.Base(p))
		if _, err := os.Stat(at); err != nil {
			if _, errgz := os.Stat(at + ".gz"); errgz != nil {
				t.Errorf("the package lacks %s (or .gz)", strings.TrimPrefix(at, root))
			}
		}
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		if out, err := exec.Command("sh", "-c", "dpkg-deb --ctrl-tarfile \"$1\" | tar -tvf - ./"+script, "sh", deb).Output(); err != nil || !strings.HasPrefix(string(out), "-rwxr-xr-x") {
			t.Errorf("control member %s: %q (%v), want an executable script", script, out, err)
		}
	}

	// lintian stays clean (its overrides file says why for what it flags).
	if _, err := exec.LookPath("lintian"); err != nil {
		t.Fatalf("lintian is needed to check the package (make deps installs it): %v", err)
	}
	lout, err := exec.CommandContext(ctx, "lintian", "--fail-on", "error,warning", deb).CombinedOutput()
	var tags []string
	for _, l := range strings.Split(string(lout), "\n") {
		if l != "" && !strings.Contains(l, "running with root privileges") {
			tags = append(tags, l)
		}
	}
	if err != nil || len(tags) > 0 {
		t.Errorf("lintian %s: %v\n%s", filepath.Base(deb), err, strings.Join(tags, "\n"))
	}
}
