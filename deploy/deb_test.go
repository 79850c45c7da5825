package deploy

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
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
// The host's package and a cross-built one (arm64, where DPUs run; amd64
// on an arm64 host) get the same checks; the cross-built binary is read,
// not run, so no emulator is needed.
func TestDebPackage(t *testing.T) {
	for _, tool := range []string{"make", "dpkg-deb", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to build the package (make deps installs dpkg-deb): %v", tool, err)
		}
	}
	cross := "arm64"
	if runtime.GOARCH == "arm64" {
		cross = "amd64"
	}
	for _, goarch := range []string{runtime.GOARCH, cross} {
		t.Run(goarch, func(t *testing.T) { checkDeb(t, goarch) })
	}
}

// debArch maps GOARCH to the Debian architecture for the two built here.
var debArch = map[string]string{"amd64": "amd64", "arm64": "arm64"}

func checkDeb(t *testing.T, goarch string) {
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-s", "-C", "..", "deb", "DEB_OUT="+out)
	// The test may itself run cross-built (make unit-arm64): GOARCH is
	// set for make only, and the go it runs builds for the host by default.
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GOARCH=") }), "GOARCH="+goarch)
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
	if arch != debArch[goarch] {
		t.Errorf("GOARCH=%s make deb wrote a package for %s", goarch, arch)
	}

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
	checkStaticELF(t, bin, goarch)
	// The binary carries git's version; the package's is derived from it.
	gitVersion := stampedVersion(t, bin)
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

// checkStaticELF checks that bin is a static ELF executable for goarch.
func checkStaticELF(t *testing.T, bin, goarch string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]
	if f.Machine != want {
		t.Errorf("%s is for %v, want %v", bin, f.Machine, want)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has an ELF interpreter: not a static build", bin)
		}
	}
}

// stampedVersion returns [line, version, revision] of bin's `version`
// output. A binary for another architecture runs under its qemu-user
// emulator if one is installed (make unit-arm64 installs it); without one
// its contents are checked for the version and revision git gives this
// tree, which make deb stamps with -X (-trimpath keeps -ldflags out of
// the build info).
func stampedVersion(t *testing.T, bin string) []string {
	t.Helper()
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatalf("%s: build info: %v", bin, err)
	}
	goarch := ""
	for _, s := range bi.Settings {
		if s.Key == "GOARCH" {
			goarch = s.Value
		}
	}
	argv := []string{bin, "version"}
	if goarch != runtime.GOARCH {
		emu, err := exec.LookPath(qemuUser[goarch])
		if err != nil {
			return stampedByGit(t, bin)
		}
		argv = append([]string{emu}, argv...)
	}
	vout, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, vout)
	}
	v := regexp.MustCompile(`^ovn-vif-sidecar (\S+) revision ([0-9a-f]{40}) go\S+\n$`).FindStringSubmatch(string(vout))
	if v == nil || v[1] == "dev" {
		t.Fatalf("`ovn-vif-sidecar version` from the package printed %q; want a stamped version and revision", vout)
	}
	return v
}

// qemuUser names Debian's qemu-user-static emulator per GOARCH.
var qemuUser = map[string]string{"amd64": "qemu-x86_64-static", "arm64": "qemu-aarch64-static"}

func stampedByGit(t *testing.T, bin string) []string {
	t.Helper()
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", ".."}, args...)...).Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	version, revision := git("describe", "--tags", "--always", "--dirty"), git("rev-parse", "HEAD")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{version, revision} {
		if !bytes.Contains(data, []byte(want)) {
			t.Fatalf("%s does not contain %q: not stamped with this tree's version and revision", bin, want)
		}
	}
	return []string{"", version, revision}
}
