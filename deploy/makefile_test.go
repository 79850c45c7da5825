package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fakeGo writes a go command that prints version and nothing else.
func fakeGo(t *testing.T, version string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "go")
	if err := os.WriteFile(path, []byte("#!/bin/sh\necho '"+version+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// makeCmd runs make in the repository root as a user would, not as a
// sub-make (which would add "Entering directory" lines).
func makeCmd(args ...string) *exec.Cmd {
	cmd := exec.Command("make", append([]string{"-n"}, args...)...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "MAKEFLAGS=", "MAKELEVEL=")
	return cmd
}

// make names a missing or too old Go in one line, before any target
// runs, and lets a new enough one through.
func TestMakefileGoVersionCheck(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	minor := string(m[1])
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^GO_MIN\s*:=\s*` + regexp.QuoteMeta(minor) + `$`).Match(makefile) {
		t.Errorf("the Makefile's GO_MIN is not go.mod's go %s", minor)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "\n### Go toolchain\n") || !strings.Contains(string(readme), "Go "+minor+" or later") {
		t.Errorf("README.md lacks the \"Go toolchain\" section the Makefile's message points to, or does not name Go %s", minor)
	}

	bad := map[string]string{
		"old":     fakeGo(t, "go version go1.19.8 linux/amd64"),
		"ancient": fakeGo(t, "go version go1.3 linux/amd64"),
		"garbage": fakeGo(t, "garbage"),
		"missing": filepath.Join(t.TempDir(), "no-such-go"),
	}
	for name, goCmd := range bad {
		for _, target := range []string{"build", "test", "lint", "deps"} {
			out, err := makeCmd(target, "GO="+goCmd).CombinedOutput()
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if err == nil || len(lines) != 1 || !strings.Contains(lines[0], "Go "+minor+" or later is needed") ||
				!strings.Contains(lines[0], goCmd) || !strings.Contains(lines[0], `"Go toolchain" in README.md`) {
				t.Errorf("make %s with a %s go (%v): want one line naming %s and the README, got:\n%s", target, name, err, goCmd, out)
			}
		}
	}
	for _, v := range []string{"go version go" + minor + ".0 linux/amd64", "go version go1.99.1 linux/arm64", "go version go2.0 linux/amd64", "go version devel go1.27-abcdef linux/amd64"} {
		goCmd := fakeGo(t, v)
		out, err := makeCmd("build", "GO="+goCmd).CombinedOutput()
		if err != nil || !strings.Contains(string(out), goCmd+" build") {
			t.Errorf("make -n build with %q: %v\n%s", v, err, out)
		}
	}
	// Goals that run no Go work without it.
	if out, err := makeCmd("clean", "GO="+bad["missing"]).CombinedOutput(); err != nil {
		t.Errorf("make -n clean without go: %v\n%s", err, out)
	}
}
