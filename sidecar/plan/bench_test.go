package plan

import (
	"fmt"
	"testing"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

// planWorld builds a plan input for n ports of the dummy provider, either
// all already plugged (steady state) or none yet (bulk plug).
func planWorld(n int, plugged bool) PlanInput {
	in := PlanInput{
		Desired:       map[string]Desired{},
		Answers:       map[string]Answer{},
		Consent:       map[string]error{},
		BridgeUUID:    "br-uuid",
		BridgeName:    "br-int",
		UnplugAllowed: true,
		Providers:     map[string]ProviderState{"dummy": ProviderEnabled},
	}
	for i := range n {
		k := fmt.Sprintf("lsp%d", i)
		in.Keys = append(in.Keys, k)
		in.Desired[k] = Desired{LogicalPort: k, PlugType: "dummy", MTURequest: 1500}
		in.Answers[k] = Answer{
			Out:        &providers.PortCtxOut{Name: k, Type: "internal", IfaceOptions: map[string]string{"vif-plug-dummy-option": "value"}},
			Maintained: []string{"vif-plug-dummy-option"},
		}
		if plugged {
			mtu := 1500
			in.Ifaces = append(in.Ifaces, Iface{
				UUID: fmt.Sprintf("iface-%d", i), Name: k, Type: "internal",
				Options:     map[string]string{"vif-plug-dummy-option": "value"},
				ExternalIDs: map[string]string{ExtIfaceID: k, ExtOvnPlugged: "dummy", "ovn-installed": "true"},
				MTURequest:  &mtu, PortUUID: fmt.Sprintf("port-%d", i), BridgeUUID: "br-uuid", BridgeName: "br-int",
			})
		}
	}
	return in
}

func BenchmarkPlan1000Steady(b *testing.B) {
	in := planWorld(1000, true)
	b.ReportAllocs()
	for b.Loop() {
		if res := Plan(in); len(res.Actions) != 0 {
			b.Fatalf("steady state planned %d actions", len(res.Actions))
		}
	}
}

func BenchmarkPlan1000Plug(b *testing.B) {
	in := planWorld(1000, false)
	b.ReportAllocs()
	for b.Loop() {
		if res := Plan(in); len(res.Actions) != 1000 {
			b.Fatalf("planned %d plugs, want 1000", len(res.Actions))
		}
	}
}

func BenchmarkPlanSingleKeyIn1000(b *testing.B) {
	in := planWorld(1000, true)
	in.Keys = []string{"lsp500"}
	b.ReportAllocs()
	for b.Loop() {
		Plan(in)
	}
}
