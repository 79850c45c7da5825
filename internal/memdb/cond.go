package memdb

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/ovn-kubernetes/libovsdb/database"
	"github.com/ovn-kubernetes/libovsdb/mapper"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// condRequest is a <monitor-cond-request>. where is raw because a clause
// may be a boolean, which ovsdb.Condition cannot decode.
type condRequest struct {
	Columns []string             `json:"columns,omitempty"`
	Where   []json.RawMessage    `json:"where,omitempty"`
	Select  *ovsdb.MonitorSelect `json:"select,omitempty"`
}

// clause is one condition of a monitor, with its value in native form,
// or a constant.
type clause struct {
	constant *bool
	cond     ovsdb.Condition
}

// tableMonitor is what one monitor watches in one table.
type tableMonitor struct {
	columns []string // nil: all
	where   []clause // ORed; none: every row
	sel     ovsdb.MonitorSelect
}

// newTableMonitor validates req against the table's schema.
func newTableMonitor(ts *ovsdb.TableSchema, req condRequest) (*tableMonitor, error) {
	tm := &tableMonitor{columns: req.Columns, sel: *ovsdb.NewDefaultMonitorSelect()}
	if req.Select != nil {
		tm.sel = *req.Select
	}
	for _, c := range req.Columns {
		if ts.Column(c) == nil {
			return nil, fmt.Errorf("no column %q", c)
		}
	}
	for _, raw := range req.Where {
		var b bool
		if json.Unmarshal(raw, &b) == nil {
			tm.where = append(tm.where, clause{constant: &b})
			continue
		}
		var c ovsdb.Condition
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("condition %s: %w", raw, err)
		}
		col := ts.Column(c.Column)
		if col == nil {
			return nil, fmt.Errorf("condition %s: no column %q", raw, c.Column)
		}
		v, err := ovsdb.OvsToNative(col, c.Value)
		if err == nil {
			err = ovsdb.ValidateCondition(col, c.Function, v)
		}
		if err != nil {
			return nil, fmt.Errorf("condition %s: %w", raw, err)
		}
		c.Value = v
		tm.where = append(tm.where, clause{cond: c})
	}
	return tm, nil
}

// matches reports whether the row m meets one of the conditions, as
// ovsdb-server ORs a monitor's clauses.
func (tm *tableMonitor) matches(dm model.DatabaseModel, m model.Model) bool {
	if len(tm.where) == 0 {
		return true
	}
	info, err := dm.NewModelInfo(m)
	if err != nil {
		return false
	}
	for _, c := range tm.where {
		if c.holds(info) {
			return true
		}
	}
	return false
}

func (c clause) holds(info *mapper.Info) bool {
	if c.constant != nil {
		return *c.constant
	}
	v, err := info.FieldByColumn(c.cond.Column)
	if err != nil {
		return false
	}
	ok, err := evaluate(c.cond.Function, v, c.cond.Value)
	return err == nil && ok
}

// evaluate applies libovsdb's condition functions with ovsdb-server's
// meaning: an optional column (a pointer in the model) is a set of 0 or
// 1 element, and sets compare regardless of order.
func evaluate(fn ovsdb.ConditionFunction, a, b any) (bool, error) {
	a, b = asSet(a), asSet(b)
	if reflect.ValueOf(a).Kind() != reflect.Slice || (fn != ovsdb.ConditionEqual && fn != ovsdb.ConditionNotEqual) {
		return fn.Evaluate(a, b)
	}
	ab, err := ovsdb.ConditionIncludes.Evaluate(a, b)
	if err != nil {
		return false, err
	}
	ba, err := ovsdb.ConditionIncludes.Evaluate(b, a)
	if err != nil {
		return false, err
	}
	return (ab && ba) == (fn == ovsdb.ConditionEqual), nil
}

func asSet(v any) any {
	p := reflect.ValueOf(v)
	if p.Kind() != reflect.Pointer {
		return v
	}
	s := reflect.MakeSlice(reflect.SliceOf(p.Type().Elem()), 0, 1)
	if !p.IsNil() {
		s = reflect.Append(s, p.Elem())
	}
	return s.Interface()
}

// row renders m with the monitored columns.
func (tm *tableMonitor) row(dm model.DatabaseModel, m model.Model) (*ovsdb.Row, error) {
	info, err := dm.NewModelInfo(m)
	if err != nil {
		return nil, err
	}
	r, err := dm.Mapper.NewRow(info)
	if err != nil {
		return nil, err
	}
	r = tm.only(r)
	return &r, nil
}

// only keeps the monitored columns of r.
func (tm *tableMonitor) only(r ovsdb.Row) ovsdb.Row {
	if tm.columns == nil {
		return r
	}
	out := make(ovsdb.Row, len(tm.columns))
	for _, c := range tm.columns {
		if v, ok := r[c]; ok {
			out[c] = v
		}
	}
	return out
}

// updates is what the transaction u means to this table's monitor: rows
// that start meeting the condition are inserted, rows that stop meeting
// it deleted, as ovsdb-server sends them.
func (tm *tableMonitor) updates(dm model.DatabaseModel, table string, u database.Update) (ovsdb.TableUpdate2, error) {
	// The transaction's own rows: the inserts' and the modifications' diffs.
	rows := map[string]ovsdb.RowUpdate2{}
	err := u.ForEachRowUpdate(table, func(uuid string, ru ovsdb.RowUpdate2) error {
		rows[uuid] = ru
		return nil
	})
	if err != nil {
		return nil, err
	}
	tu := ovsdb.TableUpdate2{}
	err = u.ForEachModelUpdate(table, func(uuid string, old, cur model.Model) error {
		was := old != nil && tm.matches(dm, old)
		is := cur != nil && tm.matches(dm, cur)
		ru := rows[uuid]
		switch {
		case is && !was && tm.sel.Insert():
			if ru.Insert != nil {
				r := tm.only(*ru.Insert)
				tu[uuid] = &ovsdb.RowUpdate2{Insert: &r}
				return nil
			}
			// A row that starts meeting the condition: all of it.
			r, err := tm.row(dm, cur)
			if err != nil {
				return err
			}
			tu[uuid] = &ovsdb.RowUpdate2{Insert: r}
		case was && !is && tm.sel.Delete():
			tu[uuid] = &ovsdb.RowUpdate2{Delete: &ovsdb.Row{}}
		case was && is && tm.sel.Modify() && ru.Modify != nil:
			// A change to columns nobody monitors is no update.
			if d := tm.only(*ru.Modify); len(d) > 0 {
				tu[uuid] = &ovsdb.RowUpdate2{Modify: &d}
			}
		}
		return nil
	})
	return tu, err
}
