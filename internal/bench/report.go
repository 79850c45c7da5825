package bench

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Sides: A is ovn-controller --enable-dummy-vif-plug, B is plain
// ovn-controller plus the sidecar.
const (
	A = 0
	B = 1
)

// Value is one measurement. Capped means the wait hit its cap and the
// true value is larger than V.
type Value struct {
	V      float64
	Capped bool
}

// Figure is one row of the table: a measurement repeated on both sides.
type Figure struct {
	ID    string
	Label string
	Unit  string
	Vals  [2][]Value
	// NoRatio: the two sides measure different things (see Note).
	NoRatio bool
	Note    string
	// Max: show the largest value instead of the median (for counts that
	// must be 0 every time).
	Max bool
}

// Results collects figures in the order they are first added.
type Results struct {
	mu   sync.Mutex
	figs []*Figure
	byID map[string]*Figure
}

// NewResults returns an empty result set.
func NewResults() *Results { return &Results{byID: map[string]*Figure{}} }

// Define declares a figure (its label, unit, and whether a ratio makes
// sense) so that the table order follows the workloads.
func (r *Results) Define(id, label, unit string, noRatio bool, note string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.byID[id]; f != nil {
		return
	}
	f := &Figure{ID: id, Label: label, Unit: unit, NoRatio: noRatio, Note: note}
	r.figs = append(r.figs, f)
	r.byID[id] = f
}

// DefineMax declares a figure whose table entry is the maximum over the
// repetitions rather than the median.
func (r *Results) DefineMax(id, label, unit string, note string) {
	r.Define(id, label, unit, false, note)
	r.mu.Lock()
	r.byID[id].Max = true
	r.mu.Unlock()
}

// Add records one repetition's value for a side.
func (r *Results) Add(id string, side int, v Value) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.byID[id]
	if f == nil {
		f = &Figure{ID: id, Label: id}
		r.figs = append(r.figs, f)
		r.byID[id] = f
	}
	f.Vals[side] = append(f.Vals[side], v)
}

// Figures returns the figures in order.
func (r *Results) Figures() []*Figure {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Figure(nil), r.figs...)
}

// Median returns the median of vs; a capped value counts as larger than
// every uncapped one. ok is false for no values.
func Median(vs []Value) (m Value, ok bool) {
	if len(vs) == 0 {
		return Value{}, false
	}
	s := append([]Value(nil), vs...)
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].Capped != s[j].Capped {
			return !s[i].Capped
		}
		return s[i].V < s[j].V
	})
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	lo, hi := s[n/2-1], s[n/2]
	if hi.Capped {
		return hi, true
	}
	return Value{V: (lo.V + hi.V) / 2}, true
}

// Maximum returns the largest of vs, a capped value counting as larger.
func Maximum(vs []Value) (m Value, ok bool) {
	for i, v := range vs {
		if i == 0 || (v.Capped && !m.Capped) || (v.Capped == m.Capped && v.V > m.V) {
			m = v
		}
	}
	return m, len(vs) > 0
}

// Percentile is the nearest-rank percentile (0 < p <= 100) of xs.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = max(1, min(rank, len(s)))
	return s[rank-1]
}

// FormatValue renders a value in its unit.
func FormatValue(v Value, unit string) string {
	s := formatNum(v.V, unit)
	if v.Capped {
		return "> " + s
	}
	return s
}

func formatNum(x float64, unit string) string {
	switch unit {
	case "ms":
		switch {
		case x >= 10000:
			return fmt.Sprintf("%.1f s", x/1000)
		case x >= 100:
			return fmt.Sprintf("%.0f ms", x)
		case x >= 10:
			return fmt.Sprintf("%.1f ms", x)
		default:
			return fmt.Sprintf("%.2f ms", x)
		}
	case "s":
		if x >= 100 {
			return fmt.Sprintf("%.0f s", x)
		}
		return fmt.Sprintf("%.2f s", x)
	case "MiB":
		return fmt.Sprintf("%.1f MiB", x)
	case "":
		if x == math.Trunc(x) {
			return fmt.Sprintf("%.0f", x)
		}
		return fmt.Sprintf("%.2f", x)
	default:
		return fmt.Sprintf("%.3g %s", x, unit)
	}
}

// Ratio renders B/A of the medians, with the direction of a cap.
func Ratio(a, b Value) string {
	switch {
	case a.Capped && b.Capped:
		return "n/a"
	case a.V == 0 && b.V == 0:
		return "—"
	case a.V == 0:
		return "∞"
	case a.Capped:
		return "< " + ratioNum(b.V/a.V)
	case b.Capped:
		return "> " + ratioNum(b.V/a.V)
	}
	return ratioNum(b.V / a.V)
}

// ratioNum keeps two decimals, or two significant digits below 0.01.
func ratioNum(x float64) string {
	if x != 0 && x < 0.01 {
		return strconv.FormatFloat(x, 'g', 2, 64)
	}
	return fmt.Sprintf("%.2f", x)
}

// Row is one rendered table row.
type Row struct {
	Label, A, B, Ratio, N string
}

// Rows renders the table rows: median (or, for Max figures, maximum) of
// A and of B, B/A, and the number of repetitions behind each.
func (r *Results) Rows() []Row {
	var rows []Row
	for _, f := range r.Figures() {
		agg := Median
		if f.Max {
			agg = Maximum
		}
		ma, okA := agg(f.Vals[A])
		mb, okB := agg(f.Vals[B])
		row := Row{Label: f.Label, A: "—", B: "—", Ratio: "—"}
		if okA {
			row.A = FormatValue(ma, f.Unit)
		}
		if okB {
			row.B = FormatValue(mb, f.Unit)
		}
		if okA && okB && !f.NoRatio {
			row.Ratio = Ratio(ma, mb)
		}
		switch {
		case okA && okB && len(f.Vals[A]) != len(f.Vals[B]):
			row.N = fmt.Sprintf("%d/%d", len(f.Vals[A]), len(f.Vals[B]))
		case okA:
			row.N = fmt.Sprint(len(f.Vals[A]))
		case okB:
			row.N = fmt.Sprint(len(f.Vals[B]))
		}
		if f.Note != "" {
			row.Label += " [" + f.Note + "]"
		}
		rows = append(rows, row)
	}
	return rows
}

var headers = Row{"figure", "A: ovn-controller plugs", "B: sidecar plugs", "B/A", "reps"}

// WriteText writes the table with aligned columns.
func WriteText(w io.Writer, rows []Row) {
	all := append([]Row{headers}, rows...)
	width := [5]int{}
	for _, r := range all {
		for i, c := range r.cells() {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for n, r := range all {
		var b strings.Builder
		for i, c := range r.cells() {
			pad := width[i] - len([]rune(c))
			if i == 0 {
				b.WriteString(c + strings.Repeat(" ", pad))
			} else {
				b.WriteString("  " + strings.Repeat(" ", pad) + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if n == 0 {
			fmt.Fprintln(w, strings.Repeat("-", width[0]+width[1]+width[2]+width[3]+width[4]+8))
		}
	}
}

// WriteMarkdown writes the table as a GitHub Markdown table.
func WriteMarkdown(w io.Writer, rows []Row) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(headers.cells(), " | "))
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|")
	for _, r := range rows {
		c := r.cells()
		for i := range c {
			c[i] = strings.ReplaceAll(c[i], "|", `\|`)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(c, " | "))
	}
}

func (r Row) cells() []string { return []string{r.Label, r.A, r.B, r.Ratio, r.N} }

// WriteRawMarkdown lists every repetition's value, in run order.
func WriteRawMarkdown(w io.Writer, r *Results) {
	fmt.Fprintln(w, "| figure | A | B |")
	fmt.Fprintln(w, "|---|---|---|")
	list := func(vs []Value) string {
		parts := make([]string, len(vs))
		for i, v := range vs {
			parts[i] = strconv.FormatFloat(v.V, 'f', -1, 64)
			if math.Abs(v.V) >= 10 {
				parts[i] = strconv.FormatFloat(v.V, 'f', 1, 64)
			} else if v.V != math.Trunc(v.V) {
				parts[i] = strconv.FormatFloat(v.V, 'f', 3, 64)
			}
			if v.Capped {
				parts[i] = "> " + parts[i]
			}
		}
		return strings.Join(parts, ", ")
	}
	for _, f := range r.Figures() {
		fmt.Fprintf(w, "| %s | %s | %s |\n", strings.ReplaceAll(f.Label, "|", `\|`), list(f.Vals[A]), list(f.Vals[B]))
	}
}
