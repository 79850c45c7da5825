package docs

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestManPageNamesInstalledDocs runs the man page generator and checks
// that its SEE ALSO names README.md and every page here by the path the
// package installs it at. /bin/echo stands in for the binary: only the
// generated text around its --help matters here.
func TestManPageNamesInstalledDocs(t *testing.T) {
	out, err := exec.Command("sh", "../deploy/debian/manpage.sh", "/bin/echo", "0.0.0", "2000-01-01").CombinedOutput()
	if err != nil {
		t.Fatalf("manpage.sh: %v\n%s", err, out)
	}
	man := string(out)
	_, seeAlso, ok := strings.Cut(man, "\n.SH SEE ALSO\n")
	if !ok {
		t.Fatalf("no SEE ALSO section in:\n%s", man)
	}
	pages, err := filepath.Glob("*.md")
	if err != nil || len(pages) == 0 {
		t.Fatalf("no pages found: %v", err)
	}
	want := []string{"/usr/share/doc/ovn-vif-sidecar/README.md"}
	for _, p := range pages {
		want = append(want, "/usr/share/doc/ovn-vif-sidecar/docs/"+p)
	}
	for _, w := range want {
		if !strings.Contains(seeAlso, "\n.I "+w+"\n") {
			t.Errorf("SEE ALSO does not name %s:\n%s", w, seeAlso)
		}
	}
	if strings.Contains(seeAlso, "`") {
		t.Errorf("SEE ALSO has Markdown backticks:\n%s", seeAlso)
	}
}
