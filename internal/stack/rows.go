package stack

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Row is one database row as listed by the ctl tools' --format=json.
// Values are decoded: a uuid becomes its string, a map a
// map[string]string, a set a []any (empty set: nil), integers int64.
type Row map[string]any

// Str returns a string column ("" if empty or absent).
func (r Row) Str(col string) string {
	switch v := r[col].(type) {
	case string:
		return v
	case []any:
		if len(v) == 1 {
			if s, ok := v[0].(string); ok {
				return s
			}
		}
	}
	return ""
}

// Int returns an integer column; ok is false for an empty optional value.
func (r Row) Int(col string) (n int64, ok bool) {
	n, ok = r[col].(int64)
	return n, ok
}

// Bool returns a boolean column; false if empty.
func (r Row) Bool(col string) bool {
	b, _ := r[col].(bool)
	return b
}

// Map returns a map column, never nil.
func (r Row) Map(col string) map[string]string {
	if m, ok := r[col].(map[string]string); ok {
		return m
	}
	return map[string]string{}
}

// Strs returns a set column of strings or uuids; a single value counts.
func (r Row) Strs(col string) []string {
	switch v := r[col].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// List lists table's rows (all columns if none given).
func (s *Stack) List(db DB, table string, columns ...string) []Row {
	s.tb.Helper()
	args := []string{"--format=json"}
	if len(columns) > 0 {
		args = append(args, "--columns="+strings.Join(columns, ","))
	}
	tables, err := parseTables(s.Ctl(db, append(args, "list", table)...))
	if err != nil || len(tables) != 1 {
		s.tb.Fatalf("stack: list %s %s: %v", db, table, err)
	}
	return tables[0]
}

// parseTables decodes the output of one or more "--format=json list"
// commands, one JSON document per command.
func parseTables(out string) ([][]Row, error) {
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	var tables [][]Row
	for {
		var doc struct {
			Headings []string `json:"headings"`
			Data     [][]any  `json:"data"`
		}
		if err := dec.Decode(&doc); err == io.EOF {
			return tables, nil
		} else if err != nil {
			return nil, err
		}
		rows := make([]Row, 0, len(doc.Data))
		for _, d := range doc.Data {
			if len(d) != len(doc.Headings) {
				return nil, fmt.Errorf("row has %d values for %d headings", len(d), len(doc.Headings))
			}
			r := make(Row, len(d))
			for i, h := range doc.Headings {
				v, err := decodeValue(d[i])
				if err != nil {
					return nil, fmt.Errorf("column %s: %w", h, err)
				}
				r[h] = v
			}
			rows = append(rows, r)
		}
		tables = append(tables, rows)
	}
}

// decodeValue turns OVSDB JSON notation (RFC 7047 5.1) into Go values.
func decodeValue(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n, nil
		}
		return x.Float64()
	case string, bool, nil:
		return x, nil
	case []any:
		if len(x) != 2 {
			return nil, fmt.Errorf("bad value %v", x)
		}
		tag, _ := x[0].(string)
		switch tag {
		case "uuid", "named-uuid":
			return x[1], nil
		case "set":
			elems, _ := x[1].([]any)
			if len(elems) == 0 {
				return nil, nil
			}
			out := make([]any, 0, len(elems))
			for _, e := range elems {
				d, err := decodeValue(e)
				if err != nil {
					return nil, err
				}
				out = append(out, d)
			}
			return out, nil
		case "map":
			pairs, _ := x[1].([]any)
			m := make(map[string]string, len(pairs))
			for _, p := range pairs {
				kv, ok := p.([]any)
				if !ok || len(kv) != 2 {
					return nil, fmt.Errorf("bad map pair %v", p)
				}
				k, err := decodeValue(kv[0])
				if err != nil {
					return nil, err
				}
				val, err := decodeValue(kv[1])
				if err != nil {
					return nil, err
				}
				m[fmt.Sprint(k)] = fmt.Sprint(val)
			}
			return m, nil
		}
	}
	return nil, fmt.Errorf("bad value %v", v)
}
