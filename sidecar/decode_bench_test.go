package sidecar

import (
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	fullsb "github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
)

// BenchmarkDecodeBindings1000 decodes one SB update of 1000 bindings, as
// the engine's monitor receives it (the monitored columns only), into a
// cache of the engine's client model: JSON to rows to model structs.
func BenchmarkDecodeBindings1000(b *testing.B) {
	cm, err := model.NewClientDBModel("OVN_Southbound", map[string]model.Model{
		sb.ChassisTable: &sb.Chassis{}, sb.PortBindingTable: &sb.PortBinding{}, sb.SSLTable: &sb.SSL{},
	})
	if err != nil {
		b.Fatal(err)
	}
	dm, errs := model.NewDatabaseModel(fullsb.Schema(), cm)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	rows := map[string]any{}
	for i := range 1000 {
		rows[fmt.Sprintf("00000000-0000-4000-8000-%012d", i)] = map[string]any{"initial": map[string]any{
			"logical_port":      fmt.Sprintf("lsp-%04d", i),
			"type":              "",
			"requested_chassis": []any{"uuid", "5b2f3a1c-0000-4000-8000-000000000001"},
			"options": []any{"map", []any{
				[]any{"requested-chassis", "dpu1"}, []any{"vif-plug-type", "representor"},
				[]any{"vif-plug:representor:pf-mac", "00:53:00:00:00:01"}, []any{"vif-plug:representor:vf-num", fmt.Sprint(i)},
				[]any{"vif-plug-mtu-request", "9000"},
			}},
		}}
	}
	raw, err := json.Marshal(map[string]any{sb.PortBindingTable: rows})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	// CPU time, GC included, says more than wall time on a shared machine.
	cpu0 := processCPU(b)
	for b.Loop() {
		tc, err := cache.NewTableCache(dm, nil, &logr.Logger{})
		if err != nil {
			b.Fatal(err)
		}
		var u ovsdb.TableUpdates2
		if err := json.Unmarshal(raw, &u); err != nil {
			b.Fatal(err)
		}
		if err := tc.Populate2(u); err != nil {
			b.Fatal(err)
		}
		if n := tc.Table(sb.PortBindingTable).Len(); n != 1000 {
			b.Fatalf("%d bindings in the cache", n)
		}
	}
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is the process's user and system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
