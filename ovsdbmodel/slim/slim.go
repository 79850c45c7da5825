// Package slim makes the sidecar's client schemas: those of the oldest
// supported releases (../releases), trimmed to the columns listed in
// columns.txt. libovsdb checks every column of a client model against the
// server's schema, so a model holding only these columns connects to every
// release that has them; vswitch and sb are the models generated from the
// trimmed schemas.
package slim

//go:generate go run ./trim -db Open_vSwitch -from ../releases/vswitch-v2.17.0.ovsschema -o vswitch.ovsschema
//go:generate go run ./trim -db OVN_Southbound -from ../releases/ovn-sb-v22.03.0.ovsschema -o ovn-sb.ovsschema
//go:generate go tool modelgen --extended -p vswitch -o vswitch vswitch.ovsschema
//go:generate go tool modelgen --extended -p sb -o sb ovn-sb.ovsschema

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
)

//go:embed columns.txt
var columnsTxt string

// Columns returns, per table of database db, the columns columns.txt lists.
func Columns(db string) (map[string][]string, error) {
	tables := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(columnsTxt))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) < 2 {
			return nil, fmt.Errorf("columns.txt:%d: want a database, a table and its columns", n)
		}
		if f[0] != db {
			continue
		}
		if _, dup := tables[f[1]]; dup {
			return nil, fmt.Errorf("columns.txt:%d: table %s listed twice", n, f[1])
		}
		tables[f[1]] = f[2:]
	}
	if len(tables) == 0 {
		return nil, fmt.Errorf("columns.txt lists no table of %s", db)
	}
	return tables, nil
}

// Trim returns schema (an .ovsschema file's content) with only the given
// tables and columns, indented as ovsdb-tool's input usually is. Indexes
// over dropped columns and references to dropped tables go too; the
// checksum goes, since the content changed.
func Trim(schema []byte, tables map[string][]string) ([]byte, error) {
	var full struct {
		Name    string                                `json:"name"`
		Version string                                `json:"version"`
		Tables  map[string]map[string]json.RawMessage `json:"tables"`
	}
	if err := json.Unmarshal(schema, &full); err != nil {
		return nil, err
	}
	trimmed := map[string]any{}
	for table, cols := range tables {
		src, ok := full.Tables[table]
		if !ok {
			return nil, fmt.Errorf("%s %s has no table %s", full.Name, full.Version, table)
		}
		var srcCols map[string]json.RawMessage
		if err := json.Unmarshal(src["columns"], &srcCols); err != nil {
			return nil, fmt.Errorf("table %s: %w", table, err)
		}
		kept := map[string]any{}
		for _, c := range cols {
			def, ok := srcCols[c]
			if !ok {
				return nil, fmt.Errorf("%s %s has no column %s.%s", full.Name, full.Version, table, c)
			}
			def, err := dropRefs(def, tables)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", table, c, err)
			}
			kept[c] = def
		}
		t := map[string]any{"columns": kept}
		for _, k := range []string{"isRoot", "maxRows"} {
			if v, ok := src[k]; ok {
				t[k] = v
			}
		}
		if idx := keptIndexes(src["indexes"], cols); len(idx) > 0 {
			t["indexes"] = idx
		}
		trimmed[table] = t
	}
	out := struct {
		Name    string         `json:"name"`
		Version string         `json:"version"`
		Tables  map[string]any `json:"tables"`
	}{full.Name, full.Version, trimmed}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// dropRefs removes refTable (and refType) from a column's key or value
// when the table referred to is not kept, so the trimmed schema stands
// on its own.
func dropRefs(def json.RawMessage, tables map[string][]string) (json.RawMessage, error) {
	var col map[string]any
	if err := json.Unmarshal(def, &col); err != nil {
		return nil, err
	}
	typ, ok := col["type"].(map[string]any)
	if !ok {
		return def, nil
	}
	for _, side := range []string{"key", "value"} {
		base, ok := typ[side].(map[string]any)
		if !ok {
			continue
		}
		if ref, ok := base["refTable"].(string); ok {
			if _, kept := tables[ref]; !kept {
				delete(base, "refTable")
				delete(base, "refType")
			}
		}
		if len(base) == 1 {
			typ[side] = base["type"]
		}
	}
	return json.Marshal(col)
}

// keptIndexes returns the indexes whose columns are all kept.
func keptIndexes(raw json.RawMessage, cols []string) [][]string {
	var idx [][]string
	if raw == nil || json.Unmarshal(raw, &idx) != nil {
		return nil
	}
	keep := map[string]bool{}
	for _, c := range cols {
		keep[c] = true
	}
	var out [][]string
next:
	for _, ix := range idx {
		for _, c := range ix {
			if !keep[c] {
				continue next
			}
		}
		out = append(out, ix)
	}
	return out
}
