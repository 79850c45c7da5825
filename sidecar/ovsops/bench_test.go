package ovsops

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

const benchPorts = 1000

func benchIface(n int) plan.Create {
	name := fmt.Sprintf("lsp%d", n)
	return plan.Create{Name: name, Type: "internal", Options: map[string]string{"vif-plug-dummy-option": "value"},
		ExternalIDs: map[string]string{"iface-id": name, "ovn-plugged": "dummy"}}
}

// benchPlugOps builds the benchPorts-port plug transaction into bridge br,
// the way the engine sends it.
func benchPlugOps(br string) []ovsdb.Operation { return plugOpsN(br, 0, benchPorts) }

// plugOpsN builds a plug of n ports numbered from first.
func plugOpsN(br string, first, n int) []ovsdb.Operation {
	ops := make([]ovsdb.Operation, 0, 2*n+1)
	bp := BridgePorts{}
	for i := first; i < first+n; i++ {
		o, pn := Plug(i, benchIface(i))
		ops = append(ops, o...)
		bp.Insert(br, pn)
	}
	return append(ops, bp.Ops()...)
}

// BenchmarkPlug1000 builds and encodes a 1000-port plug transaction
// (2001 operations) the way the engine sends it.
func BenchmarkPlug1000(b *testing.B) {
	const br = "9a6743a1-6c39-4828-9fe4-4cc28114d838"
	var size int
	for b.Loop() {
		ops := benchPlugOps(br)
		js, err := json.Marshal(ovsdb.NewTransactArgs("Open_vSwitch", ops...))
		if err != nil {
			b.Fatal(err)
		}
		size = len(js)
	}
	b.ReportMetric(float64(size), "request-bytes")
}

// BenchmarkPlug1000ModelAPI is the same through libovsdb's model API, as
// the engine built it before: for comparison.
func BenchmarkPlug1000ModelAPI(b *testing.B) {
	cl := memOVS(b)
	var size int
	for b.Loop() {
		ops := make([]ovsdb.Operation, 0, 2*benchPorts+1)
		var ports []string
		for n := range benchPorts {
			i := benchIface(n)
			in, pn := NamedUUIDs(n)
			o, err := cl.Create(&vswitch.Interface{UUID: in, Name: i.Name, Type: i.Type, Options: i.Options, ExternalIDs: i.ExternalIDs})
			if err != nil {
				b.Fatal(err)
			}
			ops = append(ops, o...)
			if o, err = cl.Create(&vswitch.Port{UUID: pn, Name: i.Name, Interfaces: []string{in}}); err != nil {
				b.Fatal(err)
			}
			ops = append(ops, o...)
			ports = append(ports, pn)
		}
		br := &vswitch.Bridge{UUID: "9a6743a1-6c39-4828-9fe4-4cc28114d838"}
		o, err := cl.Where(br).Mutate(br, model.Mutation{Field: &br.Ports, Mutator: ovsdb.MutateOperationInsert, Value: ports})
		if err != nil {
			b.Fatal(err)
		}
		ops = append(ops, o...)
		js, err := json.Marshal(ovsdb.NewTransactArgs("Open_vSwitch", ops...))
		if err != nil {
			b.Fatal(err)
		}
		size = len(js)
	}
	b.ReportMetric(float64(size), "request-bytes")
}
