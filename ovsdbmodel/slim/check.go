package slim

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// Lack is something a server's schema lacks that a slim model needs.
type Lack struct {
	Table, Column string
	// Why is "missing", "type <server's> instead of <ours>", or
	// "indexed by the server, absent from the model".
	Why string
}

// Indexed reports a column the server indexes and the model lacks.
func (l Lack) Indexed() bool { return l.Why == whyIndexed }

const whyIndexed = "indexed by the server, absent from the model"

func (l Lack) String() string {
	if l.Column == "" {
		return "table " + l.Table
	}
	if l.Why == "missing" {
		return l.Table + "." + l.Column
	}
	return l.Table + "." + l.Column + " (" + l.Why + ")"
}

// Lacks compares a server's schema with the slim schema need: every
// column of need must be in server with the same Go shape (what libovsdb
// maps it to), and every column of an index the server has on a table of
// need must be in need, since libovsdb's cache indexes rows by it.
func Lacks(need, server ovsdb.DatabaseSchema) []Lack {
	var out []Lack
	for _, table := range slices.Sorted(maps.Keys(need.Tables)) {
		nt := need.Tables[table]
		st, ok := server.Tables[table]
		if !ok {
			out = append(out, Lack{Table: table, Why: "missing"})
			continue
		}
		for _, col := range slices.Sorted(maps.Keys(nt.Columns)) {
			sc, ok := st.Columns[col]
			switch {
			case !ok:
				out = append(out, Lack{Table: table, Column: col, Why: "missing"})
			case Shape(sc) != Shape(nt.Columns[col]):
				out = append(out, Lack{Table: table, Column: col, Why: fmt.Sprintf("type %s instead of %s", Shape(sc), Shape(nt.Columns[col]))})
			}
		}
		for _, idx := range st.Indexes {
			for _, col := range idx {
				if _, ok := nt.Columns[col]; !ok {
					out = append(out, Lack{Table: table, Column: col, Why: whyIndexed})
				}
			}
		}
	}
	return out
}

// Shape is what libovsdb maps a column to: a scalar, an optional (a
// pointer), a set (a slice) or a map, of atomic types. Enums, bounds and
// references do not change it.
func Shape(c *ovsdb.ColumnSchema) string {
	if c.TypeObj == nil {
		return string(c.Type)
	}
	key := c.TypeObj.Key.Type
	switch {
	case c.TypeObj.Value != nil:
		return "map[" + key + "]" + c.TypeObj.Value.Type
	case c.TypeObj.Min() == 1 && c.TypeObj.Max() == 1:
		return key
	case c.TypeObj.Max() == 1:
		return "optional " + key
	default:
		return "set of " + key
	}
}

// Describe joins lacks for a log line.
func Describe(lacks []Lack) string {
	s := make([]string, len(lacks))
	for i, l := range lacks {
		s[i] = l.String()
	}
	return strings.Join(s, ", ")
}
