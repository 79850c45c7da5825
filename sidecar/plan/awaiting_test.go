package plan

import (
	"strings"
	"testing"
)

func TestAwaitingResolution(t *testing.T) {
	const us, name, host = "uuid-us", "dpu-7", "dpu-7.example"
	vif := func(rc, opt string) Binding {
		return Binding{LogicalPort: "lp", RequestedChassis: rc, Options: map[string]string{OptRequestedChassis: opt}}
	}
	for _, tc := range []struct {
		what string
		b    Binding
		want bool
	}{
		{"resolved to us", vif(us, name), false},
		{"cleared, names us", vif("", name), true},
		{"cleared, names our hostname", vif("", host), true},
		{"lagging: another row, names us", vif("uuid-other", name), true},
		{"names us first of a list", vif("", name+",other"), true},
		{"names us only as additional", vif("", "other,"+name), false},
		{"names another chassis", vif("", "other"), false},
		{"no option", Binding{LogicalPort: "lp"}, false},
		{"container port", Binding{LogicalPort: "lp", ParentPort: "p", Options: map[string]string{OptRequestedChassis: name}}, false},
		{"localport", Binding{LogicalPort: "lp", Type: "localport", Options: map[string]string{OptRequestedChassis: name}}, false},
	} {
		if got := AwaitingResolution(tc.b, us, name, host); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.what, got, tc.want)
		}
	}
	// With no chassis row at all, a binding naming us is awaiting too.
	if !AwaitingResolution(vif("", name), "", name, "") {
		t.Error("chassis unknown: binding naming us should be awaiting")
	}
}

func TestPlanHoldsAwaitingPorts(t *testing.T) {
	in := planWorld(2, true)
	delete(in.Desired, "lsp0")
	delete(in.Answers, "lsp0")
	in.Awaiting = map[string]bool{"lsp0": true}
	res := Plan(in)
	if len(res.Actions) != 0 || len(res.NeedConsent) != 0 {
		t.Fatalf("held port got actions %+v / consent %v", res.Actions, res.NeedConsent)
	}
	var got Outcome
	for _, o := range res.Outcomes {
		if o.LogicalPort == "lsp0" {
			got = o
		}
	}
	if got.State != StateUnplugBlocked || got.Interface != "lsp0" {
		t.Fatalf("held plugged port: %+v, want unplug-blocked on lsp0", got)
	}
	// Without the hold the same input unplugs it: the hold is what stops it.
	in.Awaiting = nil
	if res := Plan(in); len(res.NeedConsent) != 1 {
		t.Fatalf("control: unheld port should ask for removal consent, got %+v", res)
	}
	// A held port with nothing plugged is pending, not plugged.
	in = planWorld(1, false)
	delete(in.Desired, "lsp0")
	in.Awaiting = map[string]bool{"lsp0": true}
	res = Plan(in)
	if len(res.Actions) != 0 || len(res.Outcomes) != 1 || res.Outcomes[0].State != StatePending {
		t.Fatalf("held unplugged port: %+v", res)
	}
}

func TestPlanProviderFailedInit(t *testing.T) {
	in := planWorld(1, true)
	in.Providers = map[string]ProviderState{"dummy": ProviderFailed}
	res := Plan(in)
	if len(res.Actions) != 0 || len(res.NeedConsent) != 0 {
		t.Fatalf("failed provider: actions %+v consent %v", res.Actions, res.NeedConsent)
	}
	if o := res.Outcomes[0]; o.State != StateError || o.Reason == "" || !strings.Contains(o.Reason, "failed to initialise") {
		t.Fatalf("outcome %+v", o)
	}
	// With no binding, its interface is left alone rather than unplugged.
	delete(in.Desired, "lsp0")
	res = Plan(in)
	if len(res.Actions) != 0 || res.Outcomes[0].State != StateUnplugBlocked {
		t.Fatalf("unplug through a failed provider: %+v", res)
	}
}
