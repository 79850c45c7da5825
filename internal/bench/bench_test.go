package bench

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/nb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/vswitch"
)

func TestMedianCountsCappedAsLargest(t *testing.T) {
	for _, tc := range []struct {
		in   []Value
		want Value
	}{
		{[]Value{{V: 3}, {V: 1}, {V: 2}}, Value{V: 2}},
		{[]Value{{V: 4}, {V: 1}, {V: 2}, {V: 3}}, Value{V: 2.5}},
		{[]Value{{V: 300, Capped: true}, {V: 1}, {V: 2}}, Value{V: 2}},
		{[]Value{{V: 300, Capped: true}, {V: 300, Capped: true}, {V: 2}}, Value{V: 300, Capped: true}},
		{[]Value{{V: 300, Capped: true}, {V: 2}}, Value{V: 300, Capped: true}},
	} {
		if got, ok := Median(tc.in); !ok || got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if _, ok := Median(nil); ok {
		t.Error("Median(nil) ok")
	}
}

func TestMaximum(t *testing.T) {
	if got, _ := Maximum([]Value{{V: 0}, {V: 802}, {V: 6}}); got.V != 802 {
		t.Errorf("Maximum = %v", got)
	}
	if got, _ := Maximum([]Value{{V: 9}, {V: 5, Capped: true}}); !got.Capped {
		t.Errorf("Maximum = %v, want the capped value", got)
	}
}

func TestPercentileNearestRank(t *testing.T) {
	xs := make([]float64, 50)
	for i := range xs {
		xs[i] = float64(50 - i) // 50..1
	}
	if got := Percentile(xs, 50); got != 25 {
		t.Errorf("p50 = %v, want 25", got)
	}
	if got := Percentile(xs, 99); got != 50 {
		t.Errorf("p99 of 50 = %v, want the largest", got)
	}
	if got := Percentile(xs, 100); got != 50 {
		t.Errorf("p100 = %v", got)
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("percentile of nothing is not NaN")
	}
}

func TestRatioAndFormat(t *testing.T) {
	for _, tc := range []struct {
		a, b Value
		want string
	}{
		{Value{V: 100}, Value{V: 50}, "0.50"},
		{Value{V: 300000, Capped: true}, Value{V: 120}, "< 0.0004"},
		{Value{V: 10}, Value{V: 600, Capped: true}, "> 60.00"},
		{Value{V: 0}, Value{V: 0}, "—"},
		{Value{V: 0}, Value{V: 6}, "∞"},
	} {
		if got := Ratio(tc.a, tc.b); got != tc.want {
			t.Errorf("Ratio(%v, %v) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
	for _, tc := range []struct {
		v    Value
		unit string
		want string
	}{
		{Value{V: 1.234}, "ms", "1.23 ms"},
		{Value{V: 12.34}, "ms", "12.3 ms"},
		{Value{V: 123.4}, "ms", "123 ms"},
		{Value{V: 12345}, "ms", "12.3 s"},
		{Value{V: 300000, Capped: true}, "ms", "> 300.0 s"},
		{Value{V: 2.5}, "s", "2.50 s"},
		{Value{V: 23.46}, "MiB", "23.5 MiB"},
		{Value{V: 4004}, "", "4004"},
	} {
		if got := FormatValue(tc.v, tc.unit); got != tc.want {
			t.Errorf("FormatValue(%v, %q) = %q, want %q", tc.v, tc.unit, got, tc.want)
		}
	}
}

func TestRowsAndTables(t *testing.T) {
	r := NewResults()
	r.Define("lat", "latency", "ms", false, "")
	r.DefineMax("w", "writes", "", "max")
	r.Define("rss", "rss", "MiB", true, "different processes")
	r.Define("only-b", "sidecar only", "ms", false, "")
	for _, v := range []float64{3, 1, 2} {
		r.Add("lat", A, Value{V: v})
		r.Add("lat", B, Value{V: v / 2})
	}
	r.Add("w", A, Value{V: 0})
	r.Add("w", B, Value{V: 0})
	r.Add("w", B, Value{V: 802})
	r.Add("rss", A, Value{V: 15})
	r.Add("rss", B, Value{V: 24})
	r.Add("only-b", B, Value{V: 7})
	rows := r.Rows()
	want := []Row{
		{"latency", "2.00 ms", "1.00 ms", "0.50", "3"},
		{"writes [max]", "0", "802", "∞", "1/2"},
		{"rss [different processes]", "15.0 MiB", "24.0 MiB", "—", "1"},
		{"sidecar only", "—", "7.00 ms", "—", "1"},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows = %v", rows)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d = %v, want %v", i, rows[i], want[i])
		}
	}
	var md bytes.Buffer
	WriteMarkdown(&md, rows)
	if !strings.Contains(md.String(), "| latency | 2.00 ms | 1.00 ms | 0.50 | 3 |") {
		t.Errorf("markdown:\n%s", md.String())
	}
	var txt bytes.Buffer
	WriteText(&txt, rows)
	lines := strings.Split(strings.TrimSpace(txt.String()), "\n")
	if len(lines) != len(rows)+2 {
		t.Errorf("text table has %d lines:\n%s", len(lines), txt.String())
	}
}

func TestParseStatCPU(t *testing.T) {
	// comm with spaces and a parenthesis; utime 250, stime 50 ticks.
	stat := "1234 (ovn (vif) sidecar) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 1000 100\n"
	got, err := parseStatCPU([]byte(stat))
	if err != nil || got != 3.0 {
		t.Errorf("parseStatCPU = %v, %v; want 3", got, err)
	}
	if _, err := parseStatCPU([]byte("1 (x) S 1 2")); err == nil {
		t.Error("short stat line accepted")
	}
}

func TestParseStatusMemory(t *testing.T) {
	status := "Name:\tovn-vif-sidecar\nVmPeak:\t 1000 kB\nVmHWM:\t   30720 kB\nVmRSS:\t   20480 kB\n"
	m, err := parseStatusMemory([]byte(status))
	if err != nil || m.HWM != 30<<20 || m.RSS != 20<<20 {
		t.Errorf("parseStatusMemory = %+v, %v", m, err)
	}
	if _, err := parseStatusMemory([]byte("Name:\tx\n")); err == nil {
		t.Error("status without memory lines accepted")
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkPlan1000Steady-2         	    2000	    612345 ns/op	  123456 B/op	    1234 allocs/op
BenchmarkReconcile1000Steady-2    	     100	  10234567 ns/op
PASS
ok  	github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar	5.1s
`
	res := ParseGoBench(out)
	if len(res) != 2 || res[0].Name != "BenchmarkPlan1000Steady-2" || res[0].N != "2000" || len(res[0].Metrics) != 3 {
		t.Fatalf("ParseGoBench = %+v", res)
	}
	var md bytes.Buffer
	WriteGoBenchMarkdown(&md, res)
	if !strings.Contains(md.String(), "| BenchmarkPlan1000Steady-2 | 2000 | 612345 | 123456 | 1234 |") ||
		!strings.Contains(md.String(), "| BenchmarkReconcile1000Steady-2 | 100 | 10234567 |  |  |") {
		t.Errorf("markdown:\n%s", md.String())
	}
}

// TestOVSWatchCountsPlugOwnedChanges feeds cache events by hand: an
// ovn-installed change is not a plug write, an mtu_request change is.
func TestOVSWatchCountsPlugOwnedChanges(t *testing.T) {
	w := newOVSWatch()
	at := time.Unix(0, 0)
	row := func(ext map[string]string, mtu int) *vswitch.Interface {
		i := &vswitch.Interface{UUID: "u1", Name: "lsp1", Type: "internal", Options: map[string]string{}, ExternalIDs: ext}
		if mtu > 0 {
			i.MTURequest = &mtu
		}
		return i
	}
	plugged := map[string]string{"iface-id": "lsp1", "ovn-plugged": "dummy"}
	installed := map[string]string{"iface-id": "lsp1", "ovn-installed": "true", "ovn-plugged": "dummy"}

	present := w.ExpectPresent("lsp1")
	w.onRow(vswitch.InterfaceTable, nil, row(plugged, 0), at)
	if _, ok := present.Wait(0); !ok {
		t.Fatal("insert not seen")
	}
	w.onRow(vswitch.InterfaceTable, row(plugged, 0), row(installed, 0), at)
	if plug, other := w.Writes(); plug != 1 || other != 1 {
		t.Errorf("after ovn-installed: plug %d other %d, want 1 1", plug, other)
	}
	w.onRow(vswitch.InterfaceTable, row(installed, 0), row(installed, 1400), at)
	if r, _ := w.Iface("lsp1"); r.MTU != 1400 || r.IfaceID != "lsp1" {
		t.Errorf("row = %+v", r)
	}
	state := w.ExpectState(map[string]int64{"lsp1": 1400}, []string{"lsp2"})
	if _, ok := state.Wait(0); !ok {
		t.Error("state not matched")
	}
	absent := w.ExpectAbsent("lsp1")
	if _, ok := absent.Wait(0); ok {
		t.Error("absent before the delete")
	}
	w.onRow(vswitch.InterfaceTable, row(installed, 1400), nil, at)
	if _, ok := absent.Wait(0); !ok {
		t.Error("delete not seen")
	}
	if plug, _ := w.Writes(); plug != 3 {
		t.Errorf("plug writes = %d, want 3 (insert, mtu, delete)", plug)
	}
	// Port and Bridge changes are plug writes; a Bridge change that
	// leaves its ports alone is not counted at all.
	w.onRow(vswitch.PortTable, nil, &vswitch.Port{UUID: "p1", Name: "lsp1"}, at)
	br := &vswitch.Bridge{UUID: "b1", Name: "br-int", Ports: []string{"a", "b"}}
	w.onRow(vswitch.BridgeTable, br, &vswitch.Bridge{UUID: "b1", Name: "br-int", Ports: []string{"b", "a"}}, at)
	w.onRow(vswitch.BridgeTable, br, &vswitch.Bridge{UUID: "b1", Name: "br-int", Ports: []string{"a"}}, at)
	if plug, other := w.Writes(); plug != 5 || other != 1 {
		t.Errorf("after Port and Bridge: plug %d other %d, want 5 1", plug, other)
	}
}

// TestExpectReportsTheEventThatMadeItTrue checks that a many-key
// condition fires on the event for its last key, with that event's time,
// and that events for other keys leave it alone.
func TestExpectReportsTheEventThatMadeItTrue(t *testing.T) {
	w := newOVSWatch()
	base := time.Unix(100, 0)
	e := w.ExpectPresent("a", "b", "c")
	for i, n := range []string{"a", "x", "b"} {
		w.onRow(vswitch.InterfaceTable, nil, &vswitch.Interface{UUID: "u-" + n, Name: n}, base.Add(time.Duration(i)*time.Second))
	}
	if _, ok := e.Wait(0); ok {
		t.Fatal("fired before c")
	}
	w.onRow(vswitch.InterfaceTable, nil, &vswitch.Interface{UUID: "u-c", Name: "c"}, base.Add(10*time.Second))
	if at, ok := e.Wait(0); !ok || !at.Equal(base.Add(10*time.Second)) {
		t.Errorf("Wait = %v, %v; want the time of c's insert", at, ok)
	}
	// A rename reaches a condition on the old name.
	gone := w.ExpectAbsent("a")
	w.onRow(vswitch.InterfaceTable, &vswitch.Interface{UUID: "u-a", Name: "a"}, &vswitch.Interface{UUID: "u-a", Name: "a2"}, base.Add(11*time.Second))
	if at, ok := gone.Wait(0); !ok || !at.Equal(base.Add(11*time.Second)) {
		t.Errorf("rename: Wait = %v, %v", at, ok)
	}
}

// TestBatchesGroupBursts checks that Interface inserts less than
// batchGap apart count as one burst.
func TestBatchesGroupBursts(t *testing.T) {
	w := newOVSWatch()
	t0 := time.Unix(200, 0)
	for i, d := range []time.Duration{0, time.Millisecond, 2 * time.Millisecond, 50 * time.Millisecond} {
		w.onRow(vswitch.InterfaceTable, nil, &vswitch.Interface{UUID: fmt.Sprint("u", i), Name: fmt.Sprint("i", i)}, t0.Add(d))
	}
	w.onRow(vswitch.InterfaceTable, &vswitch.Interface{UUID: "u0", Name: "i0"}, nil, t0.Add(51*time.Millisecond))
	bs := w.Batches(t0)
	if len(bs) != 2 || bs[0].Inserted != 3 || bs[1].Inserted != 1 || bs[1].Delete != 1 || !bs[1].At.Equal(t0.Add(50*time.Millisecond)) {
		t.Errorf("Batches = %+v", bs)
	}
}

// TestNBAndSBTrackers feeds LSP and Port_Binding events by hand.
func TestNBAndSBTrackers(t *testing.T) {
	n := &NB{up: map[string]bool{}, byUUID: map[string]string{}, uuids: map[string]string{}, portSw: map[string]string{}}
	at := time.Unix(300, 0)
	up := n.ExpectUp("p1")
	yes, no := true, false
	n.onRow(nb.LogicalSwitchPortTable, nil, &nb.LogicalSwitchPort{UUID: "l1", Name: "p1", Up: &no}, at)
	if _, ok := up.Wait(0); ok {
		t.Fatal("up while down")
	}
	n.onRow(nb.LogicalSwitchPortTable, &nb.LogicalSwitchPort{UUID: "l1", Name: "p1", Up: &no}, &nb.LogicalSwitchPort{UUID: "l1", Name: "p1", Up: &yes}, at)
	if _, ok := up.Wait(0); !ok {
		t.Error("up not seen")
	}
	n.onRow(nb.LogicalSwitchPortTable, &nb.LogicalSwitchPort{UUID: "l1", Name: "p1", Up: &yes}, nil, at)
	if len(n.up)+len(n.uuids)+len(n.byUUID) != 0 {
		t.Errorf("delete left %v %v %v", n.up, n.uuids, n.byUUID)
	}

	w := &SBWatch{byUUID: map[string]string{}, present: map[string]bool{}}
	bound, unbound := w.ExpectBound("p1", "p2"), w.ExpectUnbound("p1")
	if _, ok := unbound.Wait(0); !ok {
		t.Error("p1 unbound before any binding")
	}
	w.onRow(sb.PortBindingTable, nil, &sb.PortBinding{UUID: "b1", LogicalPort: "p1"}, at)
	w.onRow(sb.PortBindingTable, nil, &sb.PortBinding{UUID: "b2", LogicalPort: "p2"}, at)
	if _, ok := bound.Wait(0); !ok {
		t.Error("bound not seen")
	}
	gone := w.ExpectUnbound("p1", "p2")
	w.onRow(sb.PortBindingTable, &sb.PortBinding{UUID: "b1", LogicalPort: "p1"}, nil, at)
	if _, ok := gone.Wait(0); ok {
		t.Error("unbound with p2 still there")
	}
	w.onRow(sb.PortBindingTable, &sb.PortBinding{UUID: "b2", LogicalPort: "p2"}, nil, at)
	if _, ok := gone.Wait(0); !ok {
		t.Error("unbound not seen")
	}
}

func TestParseCPULine(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	got, err := parseCPULine("cpu  100 0 50 800 50 0 0 0 30 0")
	if err != nil || got != [2]uint64{150, 1000} {
		t.Errorf("parseCPULine = %v, %v; want busy 150 of 1000", got, err)
	}
}
