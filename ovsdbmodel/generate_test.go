package ovsdbmodel_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedModelsAreFresh regenerates the models into a temp dir and
// fails if the committed ones differ: run `make generate` after changing
// a schema or the modelgen version.
func TestGeneratedModelsAreFresh(t *testing.T) {
	for _, tc := range []struct{ pkg, schema string }{
		{"vswitch", "vswitch.ovsschema"},
		{"sb", "ovn-sb.ovsschema"},
		{"nb", "ovn-nb.ovsschema"},
	} {
		dir := t.TempDir()
		cmd := exec.Command("go", "tool", "modelgen", "--extended", "-p", tc.pkg, "-o", dir, tc.schema)
		// modelgen runs here: build it for the host even when this test
		// was cross-built (make unit-arm64 sets GOARCH).
		cmd.Env = append(os.Environ(), "GOOS=", "GOARCH=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("modelgen %s: %v\n%s", tc.schema, err, out)
		}
		fresh, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(fresh) == 0 {
			t.Fatalf("modelgen produced nothing for %s", tc.schema)
		}
		committed, _ := filepath.Glob(filepath.Join(tc.pkg, "*.go"))
		if len(committed) != len(fresh) {
			t.Errorf("%s: %d committed files, %d generated; run make generate", tc.pkg, len(committed), len(fresh))
		}
		for _, f := range fresh {
			want, _ := os.ReadFile(f)
			got, err := os.ReadFile(filepath.Join(tc.pkg, filepath.Base(f)))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s/%s is stale or missing; run make generate", tc.pkg, filepath.Base(f))
			}
		}
	}
}
