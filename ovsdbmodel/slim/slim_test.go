package slim_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
)

// The slim databases: their package, schema file, the release schemas
// they must fit and the oldest, which they are trimmed from.
var dbs = []struct {
	name, pkg, schema, releases, oldest string
	model                               func() ovsdb.DatabaseSchema
}{
	{"Open_vSwitch", "vswitch", "vswitch.ovsschema", "vswitch-*.ovsschema", "vswitch-v2.17.0.ovsschema", vswitch.Schema},
	{"OVN_Southbound", "sb", "ovn-sb.ovsschema", "ovn-sb-*.ovsschema", "ovn-sb-v22.03.0.ovsschema", sb.Schema},
}

func readSchema(t *testing.T, path string) ovsdb.DatabaseSchema {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s ovsdb.DatabaseSchema
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// Every slim column is in every release with the same shape, and every
// index of a slim table is over slim columns.
func TestSlimFitsEveryRelease(t *testing.T) {
	for _, db := range dbs {
		need := readSchema(t, db.schema)
		files, _ := filepath.Glob(filepath.Join("..", "releases", db.releases))
		if len(files) < 8 {
			t.Fatalf("%s: only %d release schemas in ../releases", db.name, len(files))
		}
		for _, f := range files {
			server := readSchema(t, f)
			if server.Name != db.name {
				t.Errorf("%s: database %s, want %s", f, server.Name, db.name)
			}
			if lacks := slim.Lacks(need, server); len(lacks) > 0 {
				t.Errorf("%s %s lacks %s", filepath.Base(f), server.Version, slim.Describe(lacks))
			}
		}
	}
}

// The committed slim schemas are the oldest releases trimmed to
// columns.txt, and the committed models are generated from them.
func TestSlimModelsAreFresh(t *testing.T) {
	for _, db := range dbs {
		cols, err := slim.Columns(db.name)
		if err != nil {
			t.Fatal(err)
		}
		full, err := os.ReadFile(filepath.Join("..", "releases", db.oldest))
		if err != nil {
			t.Fatal(err)
		}
		want, err := slim.Trim(full, cols)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(db.schema)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is stale; run make generate", db.schema)
		}
		// The model embeds the schema it was generated from.
		embedded := db.model()
		if embedded.Version != readSchema(t, filepath.Join("..", "releases", db.oldest)).Version || len(embedded.Tables) != len(cols) {
			t.Errorf("%s package embeds schema %s with %d tables; run make generate", db.pkg, embedded.Version, len(embedded.Tables))
		}
		dir := t.TempDir()
		cmd := exec.Command("go", "tool", "modelgen", "--extended", "-p", db.pkg, "-o", dir, db.schema)
		// modelgen runs here: built for the host even when this test was
		// cross-built (make unit-arm64 sets GOARCH).
		cmd.Env = append(os.Environ(), "GOOS=", "GOARCH=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("modelgen %s: %v\n%s", db.schema, err, out)
		}
		fresh, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		committed, _ := filepath.Glob(filepath.Join(db.pkg, "*.go"))
		if len(fresh) == 0 || len(committed) != len(fresh) {
			t.Errorf("%s: %d committed files, %d generated; run make generate", db.pkg, len(committed), len(fresh))
		}
		for _, f := range fresh {
			want, _ := os.ReadFile(f)
			got, err := os.ReadFile(filepath.Join(db.pkg, filepath.Base(f)))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s/%s is stale or missing; run make generate", db.pkg, filepath.Base(f))
			}
		}
	}
}

// A schema that dropped a needed column, changed one's type or indexes
// one the model lacks is reported, each by name.
func TestLacks(t *testing.T) {
	need := sb.Schema()
	server := readSchema(t, filepath.Join("..", "releases", "ovn-sb-v23.03.0.ovsschema"))
	if lacks := slim.Lacks(need, server); len(lacks) != 0 {
		t.Fatalf("23.03 lacks %v", lacks)
	}
	pb := server.Tables["Port_Binding"]
	delete(pb.Columns, "requested_chassis")
	pb.Columns["type"] = pb.Columns["options"]
	pb.Indexes = append(pb.Indexes, []string{"mac"})
	server.Tables["Port_Binding"] = pb
	got := slim.Describe(slim.Lacks(need, server))
	for _, want := range []string{
		"Port_Binding.requested_chassis",
		"Port_Binding.type (type map[string]string instead of string)",
		"Port_Binding.mac (indexed by the server, absent from the model)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q, want it to name %q", got, want)
		}
	}
	delete(server.Tables, "Chassis")
	if got := slim.Describe(slim.Lacks(need, server)); !strings.Contains(got, "table Chassis") {
		t.Errorf("lacks %q, want it to name the Chassis table", got)
	}
}
