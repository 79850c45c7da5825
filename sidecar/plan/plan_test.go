package plan

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

const (
	testBrInt   = "uuid-br-int"
	testBrEx    = "uuid-br-ex"
	testChassis = "uuid-chassis-local"
	dummyOpt    = "vif-plug-dummy-option"
)

// testProviders: dummy and other are compiled in and on, off is compiled in
// but switched off, anything else (bogus, nope) is not compiled in.
var testProviders = map[string]ProviderState{"dummy": ProviderEnabled, "other": ProviderEnabled, "off": ProviderDisabled}

func ptr[T any](v T) *T { return &v }

func desiredFor(k, typ string, mtu int) Desired {
	opts := map[string]string{}
	if typ != "" {
		opts[OptPlugType] = typ
	}
	if mtu != 0 {
		opts[OptMTURequest] = strconv.Itoa(mtu)
	}
	return Desired{LogicalPort: k, PlugType: typ, MTURequest: mtu, Options: opts}
}

// ourIface is an interface on br-int plugged by provider for logical port k,
// looking like what the dummy provider creates.
func ourIface(uuid, name, k, provider string, mod ...func(*Iface)) Iface {
	i := Iface{
		UUID:        uuid,
		Name:        name,
		Type:        "internal",
		Options:     map[string]string{dummyOpt: "value"},
		ExternalIDs: map[string]string{ExtIfaceID: k, ExtOvnPlugged: provider},
		PortUUID:    "port-" + uuid,
		BridgeUUID:  testBrInt,
		BridgeName:  "br-int",
	}
	for _, m := range mod {
		m(&i)
	}
	return i
}

// plainIface is an interface nobody plugged through OVN.
func plainIface(uuid, name string, extIDs map[string]string) Iface {
	return Iface{UUID: uuid, Name: name, ExternalIDs: extIDs, PortUUID: "port-" + uuid, BridgeUUID: testBrInt, BridgeName: "br-int"}
}

func onBrEx(i *Iface) { i.BridgeUUID, i.BridgeName = testBrEx, "br-ex" }

func dummyAnswer(name string) Answer {
	return Answer{
		Out:        &providers.PortCtxOut{Name: name, Type: "internal", IfaceOptions: map[string]string{dummyOpt: "value"}},
		Maintained: []string{dummyOpt},
	}
}

// otherAnswer looks like a representor: a system interface, no options, no
// maintained set.
func otherAnswer(name string) Answer {
	return Answer{Out: &providers.PortCtxOut{Name: name}}
}

func optsAnswer(name string, opts map[string]string, maintained []string) Answer {
	return Answer{Out: &providers.PortCtxOut{Name: name, Type: "internal", IfaceOptions: opts}, Maintained: maintained}
}

func errAnswer(err error) Answer { return Answer{Err: err} }

func createFor(k, provider, name, typ string, opts map[string]string, mtu int) *Create {
	return &Create{
		BridgeUUID:  testBrInt,
		Name:        name,
		Type:        typ,
		Options:     opts,
		ExternalIDs: map[string]string{ExtIfaceID: k, ExtOvnPlugged: provider},
		MTURequest:  mtu,
	}
}

func dummyCreate(k, name string, mtu int) *Create {
	return createFor(k, "dummy", name, "internal", map[string]string{dummyOpt: "value"}, mtu)
}

type planCase struct {
	name            string
	in              PlanInput
	wantActions     []Action
	wantOutcomes    []Outcome // Reason is not compared, only required for failure states
	ignoreOutcomes  bool      // waiting for consent: the final outcome comes from the second plan
	wantNeedConsent []string
	wantConflicts   []string
}

func withDefaults(in PlanInput) PlanInput {
	if in.BridgeUUID == "" {
		in.BridgeUUID, in.BridgeName = testBrInt, "br-int"
	}
	if in.Providers == nil {
		in.Providers = testProviders
	}
	return in
}

func normActions(as []Action) []Action {
	if len(as) == 0 {
		return nil
	}
	out := make([]Action, len(as))
	for n, a := range as {
		if len(a.Remove) == 0 {
			a.Remove = nil
		}
		if a.Create != nil {
			c := *a.Create
			if len(c.Options) == 0 {
				c.Options = nil
			}
			if len(c.ExternalIDs) == 0 {
				c.ExternalIDs = nil
			}
			a.Create = &c
		}
		if a.Update != nil {
			u := *a.Update
			if len(u.SetExtIDs) == 0 {
				u.SetExtIDs = nil
			}
			if len(u.SetOptions) == 0 {
				u.SetOptions = nil
			}
			if len(u.DelOptions) == 0 {
				u.DelOptions = nil
			}
			a.Update = &u
		}
		out[n] = a
	}
	return out
}

func describeActions(as []Action) string {
	if len(as) == 0 {
		return "  (none)\n"
	}
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "  {Op:%s LogicalPort:%s Provider:%s", a.Op, a.LogicalPort, a.Provider)
		if a.Create != nil {
			fmt.Fprintf(&b, " Create:%+v", *a.Create)
		}
		if a.Update != nil {
			u := *a.Update
			typ := "<nil>"
			if u.Type != nil {
				typ = strconv.Quote(*u.Type)
			}
			fmt.Fprintf(&b, " Update:{IfaceUUID:%s Type:%s SetExtIDs:%v SetOptions:%v DelOptions:%v SetMTU:%v MTURequest:%d}",
				u.IfaceUUID, typ, u.SetExtIDs, u.SetOptions, u.DelOptions, u.SetMTU, u.MTURequest)
		}
		for _, r := range a.Remove {
			fmt.Fprintf(&b, " Remove:{%s %s bridge=%s}", r.UUID, r.Name, r.BridgeUUID)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

func stripReasons(os []Outcome) []Outcome {
	if len(os) == 0 {
		return nil
	}
	out := slices.Clone(os)
	for n := range out {
		out[n].Reason, out[n].Cause = "", "" // TestPlanCauses checks causes
	}
	return out
}

func runPlanCase(t *testing.T, tc planCase) PlanResult {
	t.Helper()
	in := withDefaults(tc.in)
	res := Plan(in)
	if got, want := normActions(res.Actions), normActions(tc.wantActions); !reflect.DeepEqual(got, want) {
		t.Errorf("actions:\ngot:\n%swant:\n%s", describeActions(got), describeActions(want))
	}
	if !tc.ignoreOutcomes {
		if got, want := stripReasons(res.Outcomes), stripReasons(tc.wantOutcomes); !reflect.DeepEqual(got, want) {
			t.Errorf("outcomes:\ngot  %+v\nwant %+v", got, want)
		}
	}
	for _, o := range res.Outcomes {
		switch o.State {
		case StateConflict, StateError, StatePending, StateUnplugBlocked:
			if o.Reason == "" {
				t.Errorf("outcome %+v: state %q without a reason", o, o.State)
			}
		}
	}
	if !slices.Equal(res.NeedConsent, tc.wantNeedConsent) {
		t.Errorf("NeedConsent = %v, want %v", res.NeedConsent, tc.wantNeedConsent)
	}
	if !slices.Equal(res.Conflicts, tc.wantConflicts) {
		t.Errorf("Conflicts = %v, want %v", res.Conflicts, tc.wantConflicts)
	}
	for _, err := range checkPlanInvariants(in, res) {
		t.Errorf("invariant: %v", err)
	}
	return res
}

func TestPlanTable(t *testing.T) {
	lp1 := func(mod ...func(*Iface)) Iface { return ourIface("u1", "lp1", "lp1", "dummy", mod...) }
	withMTU := func(n int) func(*Iface) { return func(i *Iface) { i.MTURequest = ptr(n) } }
	withType := func(s string) func(*Iface) { return func(i *Iface) { i.Type = s } }
	withOpts := func(kv map[string]string) func(*Iface) { return func(i *Iface) { i.Options = kv } }
	withExt := func(k, v string) func(*Iface) { return func(i *Iface) { i.ExternalIDs[k] = v } }
	gone := func(k, provider string) Outcome { return Outcome{LogicalPort: k, Provider: provider, State: StateGone} }
	plugged := func(k, provider, name string) Outcome {
		return Outcome{LogicalPort: k, Provider: provider, State: StatePlugged, Interface: name}
	}
	state := func(k, provider string, st State, name string) Outcome {
		return Outcome{LogicalPort: k, Provider: provider, State: st, Interface: name}
	}
	one := func(k string, d Desired) map[string]Desired { return map[string]Desired{k: d} }
	ans := func(k string, a Answer) map[string]Answer { return map[string]Answer{k: a} }
	update := func(u Update) []Action {
		return []Action{{Op: OpUpdate, LogicalPort: "lp1", Provider: "dummy", Update: &u}}
	}

	tests := []planCase{
		// ---- plug ----
		{
			name: "plug creates interface on the integration bridge",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Answers: ans("lp1", dummyAnswer("lp1")), UnplugAllowed: true},
			wantActions:  []Action{{Op: OpPlug, LogicalPort: "lp1", Provider: "dummy", Create: dummyCreate("lp1", "lp1", 0)}},
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "plug sets mtu_request when > 0",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 420)),
				Answers: ans("lp1", dummyAnswer("lp1")), UnplugAllowed: true},
			wantActions:  []Action{{Op: OpPlug, LogicalPort: "lp1", Provider: "dummy", Create: dummyCreate("lp1", "lp1", 420)}},
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "plug system interface with no options (representor-like)",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Answers: ans("lp1", otherAnswer("pf0vf3")), UnplugAllowed: true},
			wantActions:  []Action{{Op: OpPlug, LogicalPort: "lp1", Provider: "other", Create: createFor("lp1", "other", "pf0vf3", "", nil, 0)}},
			wantOutcomes: []Outcome{plugged("lp1", "other", "pf0vf3")},
		},
		{
			name: "plug next to unrelated interfaces",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces: []Iface{
					plainIface("u7", "eth0", nil),
					plainIface("u8", "tap-vm", map[string]string{ExtIfaceID: "vm-port"}),
					ourIface("u9", "lp9", "lp9", "dummy"),
				},
				Answers: ans("lp1", dummyAnswer("lp1")), UnplugAllowed: true},
			wantActions:  []Action{{Op: OpPlug, LogicalPort: "lp1", Provider: "dummy", Create: dummyCreate("lp1", "lp1", 0)}},
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "duplicate keys are planned once (plug)",
			in: PlanInput{Keys: []string{"lp1", "lp1", "lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Answers: ans("lp1", dummyAnswer("lp1")), UnplugAllowed: true},
			wantActions:  []Action{{Op: OpPlug, LogicalPort: "lp1", Provider: "dummy", Create: dummyCreate("lp1", "lp1", 0)}},
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "duplicate keys are planned once (unplug)",
			in: PlanInput{Keys: []string{"lp1", "lp1"}, Ifaces: []Iface{lp1()},
				Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantActions:  []Action{{Op: OpUnplug, LogicalPort: "lp1", Provider: "dummy", Remove: []Iface{lp1()}}},
			wantOutcomes: []Outcome{gone("lp1", "dummy")},
		},

		// ---- update ----
		{
			name: "everything already correct: no writes",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 420)),
				Ifaces: []Iface{lp1(withMTU(420))}, Answers: ans("lp1", dummyAnswer("lp1")), UnplugAllowed: true},
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "others' external_ids keys are preserved",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces:  []Iface{lp1(withExt("ovn-installed", "true"), withExt("attached-mac", "00:00:00:00:00:01"))},
				Answers: ans("lp1", dummyAnswer("lp1")), UnplugAllowed: true},
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "update type",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces: []Iface{lp1(withType("system"))}, Answers: ans("lp1", dummyAnswer("lp1")), UnplugAllowed: true},
			wantActions:  update(Update{IfaceUUID: "u1", Type: ptr("internal")}),
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "update type to empty",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces: []Iface{lp1()}, Answers: ans("lp1", Answer{Out: &providers.PortCtxOut{Name: "lp1", IfaceOptions: map[string]string{dummyOpt: "value"}}, Maintained: []string{dummyOpt}}), UnplugAllowed: true},
			wantActions:  update(Update{IfaceUUID: "u1", Type: ptr("")}),
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "update restores tampered ovn-plugged (unknown provider) without replug",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces: []Iface{lp1(withExt(ExtOvnPlugged, "bogus"))}, Answers: ans("lp1", dummyAnswer("lp1")), UnplugAllowed: true},
			wantActions:  update(Update{IfaceUUID: "u1", SetExtIDs: map[string]string{ExtOvnPlugged: "dummy"}}),
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "update restores tampered ovn-plugged with the gate closed",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces: []Iface{lp1(withExt(ExtOvnPlugged, "bogus"))}, Answers: ans("lp1", dummyAnswer("lp1"))},
			wantActions:  update(Update{IfaceUUID: "u1", SetExtIDs: map[string]string{ExtOvnPlugged: "dummy"}}),
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "update sets mtu_request",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 420)),
				Ifaces: []Iface{lp1()}, Answers: ans("lp1", dummyAnswer("lp1")), UnplugAllowed: true},
			wantActions:  update(Update{IfaceUUID: "u1", SetMTU: true, MTURequest: 420}),
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "update reverts tampered mtu_request",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 420)),
				Ifaces: []Iface{lp1(withMTU(440))}, Answers: ans("lp1", dummyAnswer("lp1")), UnplugAllowed: true},
			wantActions:  update(Update{IfaceUUID: "u1", SetMTU: true, MTURequest: 420}),
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "update clears mtu_request",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces: []Iface{lp1(withMTU(440))}, Answers: ans("lp1", dummyAnswer("lp1")), UnplugAllowed: true},
			wantActions:  update(Update{IfaceUUID: "u1", SetMTU: true, MTURequest: 0}),
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "maintained set: missing key is set",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces:  []Iface{lp1(withOpts(map[string]string{"a": "1"}))},
				Answers: ans("lp1", optsAnswer("lp1", map[string]string{"a": "1", "b": "2"}, []string{"a", "b"})), UnplugAllowed: true},
			wantActions:  update(Update{IfaceUUID: "u1", SetOptions: map[string]string{"b": "2"}}),
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "maintained set: changed key is set",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces:  []Iface{lp1(withOpts(map[string]string{"a": "1", "b": "old"}))},
				Answers: ans("lp1", optsAnswer("lp1", map[string]string{"a": "1", "b": "2"}, []string{"a", "b"})), UnplugAllowed: true},
			wantActions:  update(Update{IfaceUUID: "u1", SetOptions: map[string]string{"b": "2"}}),
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "maintained set: key in the set the provider dropped is removed",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces:  []Iface{lp1(withOpts(map[string]string{"a": "1", "b": "old", "c": "old"}))},
				Answers: ans("lp1", optsAnswer("lp1", map[string]string{"a": "1"}, []string{"c", "a", "b"})), UnplugAllowed: true},
			wantActions:  update(Update{IfaceUUID: "u1", DelOptions: []string{"b", "c"}}),
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "maintained set: keys outside the set are not touched",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces: []Iface{lp1(withOpts(map[string]string{"a": "1", "theirs": "x", "y": "mine"}))},
				// y is outside the maintained set: like OVN, it is neither set nor removed.
				Answers: ans("lp1", optsAnswer("lp1", map[string]string{"a": "1", "y": "new"}, []string{"a"})), UnplugAllowed: true},
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "maintained set: set, change and remove together, others untouched",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces:  []Iface{lp1(withOpts(map[string]string{"b": "old", "c": "old", "theirs": "x"}))},
				Answers: ans("lp1", optsAnswer("lp1", map[string]string{"a": "1", "b": "2"}, []string{"a", "b", "c"})), UnplugAllowed: true},
			wantActions:  update(Update{IfaceUUID: "u1", SetOptions: map[string]string{"a": "1", "b": "2"}, DelOptions: []string{"c"}}),
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "no maintained set: keys are added",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces:  []Iface{lp1(withOpts(map[string]string{"a": "1"}))},
				Answers: ans("lp1", optsAnswer("lp1", map[string]string{"a": "1", "b": "2"}, nil)), UnplugAllowed: true},
			wantActions:  update(Update{IfaceUUID: "u1", SetOptions: map[string]string{"b": "2"}}),
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "no maintained set: keys are changed but never removed",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces:  []Iface{lp1(withOpts(map[string]string{"a": "0", "stale": "1", dummyOpt: "value"}))},
				Answers: ans("lp1", optsAnswer("lp1", map[string]string{"a": "1"}, nil)), UnplugAllowed: true},
			wantActions:  update(Update{IfaceUUID: "u1", SetOptions: map[string]string{"a": "1"}}),
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "no maintained set: nothing to add, nothing is removed",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces:  []Iface{lp1(withOpts(map[string]string{"stale": "1"}))},
				Answers: ans("lp1", optsAnswer("lp1", nil, nil)), UnplugAllowed: true},
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "update several columns in one action",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 1500)),
				Ifaces:  []Iface{lp1(withType(""), withOpts(nil), withMTU(9000), withExt(ExtOvnPlugged, "bogus"))},
				Answers: ans("lp1", dummyAnswer("lp1")), UnplugAllowed: true},
			wantActions: update(Update{IfaceUUID: "u1", Type: ptr("internal"), SetExtIDs: map[string]string{ExtOvnPlugged: "dummy"},
				SetOptions: map[string]string{dummyOpt: "value"}, SetMTU: true, MTURequest: 1500}),
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},

		// ---- unplug ----
		{
			name:         "unplug: no binding for the iface-id",
			in:           PlanInput{Keys: []string{"lp1"}, Ifaces: []Iface{lp1()}, Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantActions:  []Action{{Op: OpUnplug, LogicalPort: "lp1", Provider: "dummy", Remove: []Iface{lp1()}}},
			wantOutcomes: []Outcome{gone("lp1", "dummy")},
		},
		{
			name:            "unplug: asks the provider first",
			in:              PlanInput{Keys: []string{"lp1"}, Ifaces: []Iface{lp1()}, UnplugAllowed: true},
			ignoreOutcomes:  true,
			wantNeedConsent: []string{"u1"},
		},
		{
			name: "unplug: withdrawal (vif-plug-type removed)",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "", 0)), Ifaces: []Iface{lp1()},
				Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantActions:  []Action{{Op: OpUnplug, LogicalPort: "lp1", Provider: "dummy", Remove: []Iface{lp1()}}},
			wantOutcomes: []Outcome{gone("lp1", "dummy")},
		},
		{
			name: "unplug: all our interfaces for the port go, sorted by UUID",
			in: PlanInput{Keys: []string{"lp1"},
				Ifaces:  []Iface{ourIface("u3", "lp1-b", "lp1", "dummy"), ourIface("u2", "lp1-a", "lp1", "other", onBrEx)},
				Consent: map[string]error{"u2": nil, "u3": nil}, UnplugAllowed: true},
			wantActions: []Action{{Op: OpUnplug, LogicalPort: "lp1", Provider: "other",
				Remove: []Iface{ourIface("u2", "lp1-a", "lp1", "other", onBrEx), ourIface("u3", "lp1-b", "lp1", "dummy")}}},
			wantOutcomes: []Outcome{gone("lp1", "other")},
		},
		{
			name:         "unplug blocked: gate closed (no binding)",
			in:           PlanInput{Keys: []string{"lp1"}, Ifaces: []Iface{lp1()}, Consent: map[string]error{"u1": nil}},
			wantOutcomes: []Outcome{state("lp1", "dummy", StateUnplugBlocked, "lp1")},
		},
		{
			name: "unplug blocked: gate closed (withdrawal)",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "", 0)), Ifaces: []Iface{lp1()},
				Consent: map[string]error{"u1": nil}},
			wantOutcomes: []Outcome{state("lp1", "dummy", StateUnplugBlocked, "lp1")},
		},
		{
			name: "unplug blocked: gate closed, consent not asked",
			in:   PlanInput{Keys: []string{"lp1"}, Ifaces: []Iface{lp1()}},
			// Nothing may be removed, so there is nothing to ask the provider.
			wantOutcomes: []Outcome{state("lp1", "dummy", StateUnplugBlocked, "lp1")},
		},
		{
			name:         "unplug blocked: provider refused",
			in:           PlanInput{Keys: []string{"lp1"}, Ifaces: []Iface{lp1()}, Consent: map[string]error{"u1": errors.New("busy")}, UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "dummy", StateUnplugBlocked, "lp1")},
		},
		{
			name: "unplug blocked: one of two interfaces refused, nothing removed",
			in: PlanInput{Keys: []string{"lp1"},
				Ifaces:  []Iface{ourIface("u1", "lp1", "lp1", "dummy"), ourIface("u2", "lp1-x", "lp1", "dummy")},
				Consent: map[string]error{"u1": nil, "u2": errors.New("busy")}, UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "dummy", StateUnplugBlocked, "lp1")},
		},
		{
			name:         "unplug blocked: ovn-plugged names an unknown provider",
			in:           PlanInput{Keys: []string{"lp1"}, Ifaces: []Iface{lp1(withExt(ExtOvnPlugged, "bogus"))}, UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "bogus", StateUnplugBlocked, "lp1")},
		},
		{
			name: "unplug blocked: ovn-plugged names an unknown provider even with consent",
			in: PlanInput{Keys: []string{"lp1"}, Ifaces: []Iface{lp1(withExt(ExtOvnPlugged, "bogus"))},
				Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "bogus", StateUnplugBlocked, "lp1")},
		},
		{
			name:         "unplug blocked: ovn-plugged names a disabled provider",
			in:           PlanInput{Keys: []string{"lp1"}, Ifaces: []Iface{lp1(withExt(ExtOvnPlugged, "off"))}, UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "off", StateUnplugBlocked, "lp1")},
		},
		{
			name: "unplug: stale interface on a foreign bridge, gate open",
			in: PlanInput{Keys: []string{"lp1"}, Ifaces: []Iface{lp1(onBrEx)},
				Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantActions:  []Action{{Op: OpUnplug, LogicalPort: "lp1", Provider: "dummy", Remove: []Iface{lp1(onBrEx)}}},
			wantOutcomes: []Outcome{gone("lp1", "dummy")},
		},
		{
			name:         "unplug blocked: stale interface on a foreign bridge, gate closed",
			in:           PlanInput{Keys: []string{"lp1"}, Ifaces: []Iface{lp1(onBrEx)}, Consent: map[string]error{"u1": nil}},
			wantOutcomes: []Outcome{state("lp1", "dummy", StateUnplugBlocked, "lp1")},
		},
		{
			name:         "nothing plugged, nothing wanted",
			in:           PlanInput{Keys: []string{"lp1"}, UnplugAllowed: true},
			wantOutcomes: []Outcome{gone("lp1", "")},
		},
		{
			name: "not ours, no binding: left alone",
			in: PlanInput{Keys: []string{"lp1"}, Ifaces: []Iface{plainIface("u1", "tap1", map[string]string{ExtIfaceID: "lp1"})},
				Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantOutcomes: []Outcome{gone("lp1", "")},
		},
		{
			name: "ovn-plugged without iface-id is not ours: left alone",
			in: PlanInput{Keys: []string{"lp1"}, Ifaces: []Iface{plainIface("u1", "lp1", map[string]string{ExtOvnPlugged: "dummy"})},
				Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantOutcomes: []Outcome{gone("lp1", "")},
		},

		// ---- conflicts ----
		{
			name: "conflict: interface without ovn-plugged carries the iface-id",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces:  []Iface{plainIface("u1", "tap1", map[string]string{ExtIfaceID: "lp1"})},
				Answers: ans("lp1", dummyAnswer("lp1")), Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantOutcomes:  []Outcome{state("lp1", "dummy", StateConflict, "")},
			wantConflicts: []string{"lp1"},
		},
		{
			name: "conflict: foreign interface with the iface-id beside our own, ours not removed",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces:  []Iface{plainIface("u0", "tap1", map[string]string{ExtIfaceID: "lp1"}), ourIface("u1", "old", "lp1", "dummy")},
				Answers: ans("lp1", dummyAnswer("lp1")), Consent: map[string]error{"u0": nil, "u1": nil}, UnplugAllowed: true},
			wantOutcomes:  []Outcome{state("lp1", "dummy", StateConflict, "")},
			wantConflicts: []string{"lp1"},
		},
		{
			name: "conflict: wanted name held by an interface with no iface-id",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces:  []Iface{plainIface("u1", "lp1", nil)},
				Answers: ans("lp1", dummyAnswer("lp1")), UnplugAllowed: true},
			wantOutcomes:  []Outcome{state("lp1", "dummy", StateConflict, "")},
			wantConflicts: []string{"lp1"},
		},
		{
			name: "conflict: wanted name held by an interface for another iface-id",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces:  []Iface{plainIface("u1", "lp1", map[string]string{ExtIfaceID: "vm7"})},
				Answers: ans("lp1", dummyAnswer("lp1")), UnplugAllowed: true},
			wantOutcomes:  []Outcome{state("lp1", "dummy", StateConflict, "")},
			wantConflicts: []string{"lp1"},
		},
		{
			name: "conflict: wanted name held by another port's plugged interface",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces:  []Iface{ourIface("u2", "lp1", "lp2", "dummy")},
				Answers: ans("lp1", dummyAnswer("lp1")), Consent: map[string]error{"u2": nil}, UnplugAllowed: true},
			wantOutcomes:  []Outcome{state("lp1", "dummy", StateConflict, "")},
			wantConflicts: []string{"lp1"},
		},
		{
			name: "conflict: wanted name held by our interface being renamed, old one kept",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Ifaces:  []Iface{ourIface("u1", "eth-old", "lp1", "other"), plainIface("u5", "eth-new", nil)},
				Answers: ans("lp1", otherAnswer("eth-new")), Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantOutcomes:  []Outcome{state("lp1", "other", StateConflict, "")},
			wantConflicts: []string{"lp1"},
		},
		{
			name: "conflict: two keys want the same name, first sorted wins",
			in: PlanInput{Keys: []string{"lp2", "lp1"},
				Desired: map[string]Desired{"lp1": desiredFor("lp1", "dummy", 0), "lp2": desiredFor("lp2", "dummy", 0)},
				Answers: map[string]Answer{"lp1": dummyAnswer("shared"), "lp2": dummyAnswer("shared")}, UnplugAllowed: true},
			wantActions:   []Action{{Op: OpPlug, LogicalPort: "lp1", Provider: "dummy", Create: dummyCreate("lp1", "shared", 0)}},
			wantOutcomes:  []Outcome{plugged("lp1", "dummy", "shared"), state("lp2", "dummy", StateConflict, "")},
			wantConflicts: []string{"lp2"},
		},
		{
			name: "conflict: earlier key wants a name a later key already has",
			in: PlanInput{Keys: []string{"lp1", "lp2"},
				Desired: map[string]Desired{"lp1": desiredFor("lp1", "dummy", 0), "lp2": desiredFor("lp2", "dummy", 0)},
				Ifaces:  []Iface{ourIface("u2", "shared", "lp2", "dummy")},
				Answers: map[string]Answer{"lp1": dummyAnswer("shared"), "lp2": dummyAnswer("shared")}, UnplugAllowed: true},
			wantOutcomes:  []Outcome{state("lp1", "dummy", StateConflict, ""), plugged("lp2", "dummy", "shared")},
			wantConflicts: []string{"lp1"},
		},

		// ---- type change ----
		{
			name: "type change: needs the old provider's consent first",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Ifaces: []Iface{lp1()}, Answers: ans("lp1", otherAnswer("lp1")), UnplugAllowed: true},
			ignoreOutcomes:  true,
			wantNeedConsent: []string{"u1"},
		},
		{
			name: "type change: with consent, replug in one action",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Ifaces: []Iface{lp1()}, Answers: ans("lp1", otherAnswer("lp1")), Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantActions: []Action{{Op: OpReplug, LogicalPort: "lp1", Provider: "other", Remove: []Iface{lp1()},
				Create: createFor("lp1", "other", "lp1", "", nil, 0)}},
			wantOutcomes: []Outcome{plugged("lp1", "other", "lp1")},
		},
		{
			name: "type change: old provider refused removal",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Ifaces: []Iface{lp1()}, Answers: ans("lp1", otherAnswer("lp1")), Consent: map[string]error{"u1": errors.New("in use")}, UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "other", StateUnplugBlocked, "lp1")},
		},
		{
			name: "type change: replug keeps mtu_request",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 420)),
				Ifaces: []Iface{lp1(withMTU(420))}, Answers: ans("lp1", otherAnswer("lp1")), Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantActions: []Action{{Op: OpReplug, LogicalPort: "lp1", Provider: "other", Remove: []Iface{lp1(withMTU(420))},
				Create: createFor("lp1", "other", "lp1", "", nil, 420)}},
			wantOutcomes: []Outcome{plugged("lp1", "other", "lp1")},
		},

		// ---- name change ----
		{
			name: "name change: needs consent first",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Ifaces: []Iface{ourIface("u1", "eth-old", "lp1", "other")}, Answers: ans("lp1", otherAnswer("eth-new")), UnplugAllowed: true},
			ignoreOutcomes:  true,
			wantNeedConsent: []string{"u1"},
		},
		{
			name: "name change: replug in one action",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Ifaces: []Iface{ourIface("u1", "eth-old", "lp1", "other")}, Answers: ans("lp1", otherAnswer("eth-new")),
				Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantActions: []Action{{Op: OpReplug, LogicalPort: "lp1", Provider: "other", Remove: []Iface{ourIface("u1", "eth-old", "lp1", "other")},
				Create: createFor("lp1", "other", "eth-new", "", nil, 0)}},
			wantOutcomes: []Outcome{plugged("lp1", "other", "eth-new")},
		},
		{
			name: "name change: refused removal leaves the old port",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Ifaces: []Iface{ourIface("u1", "eth-old", "lp1", "other")}, Answers: ans("lp1", otherAnswer("eth-new")),
				Consent: map[string]error{"u1": providers.NotReady("busy")}, UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "other", StateUnplugBlocked, "eth-old")},
		},
		{
			name: "name change: old interface's provider unknown, blocked",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Ifaces: []Iface{ourIface("u1", "eth-old", "lp1", "bogus")}, Answers: ans("lp1", otherAnswer("eth-new")), UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "other", StateUnplugBlocked, "eth-old")},
		},

		// ---- foreign bridge ----
		{
			name: "foreign bridge: removed from that bridge, created on br-int in one action",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces: []Iface{lp1(onBrEx)}, Answers: ans("lp1", dummyAnswer("lp1")), Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantActions: []Action{{Op: OpReplug, LogicalPort: "lp1", Provider: "dummy", Remove: []Iface{lp1(onBrEx)},
				Create: dummyCreate("lp1", "lp1", 0)}},
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},
		{
			name: "foreign bridge: needs consent first",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces: []Iface{lp1(onBrEx)}, Answers: ans("lp1", dummyAnswer("lp1")), UnplugAllowed: true},
			ignoreOutcomes:  true,
			wantNeedConsent: []string{"u1"},
		},
		{
			name: "foreign bridge copy beside the right one on br-int: removed in the update",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces:  []Iface{ourIface("u1", "lp1", "lp1", "dummy"), ourIface("u2", "lp1-ex", "lp1", "dummy", onBrEx)},
				Answers: ans("lp1", dummyAnswer("lp1")), Consent: map[string]error{"u2": nil}, UnplugAllowed: true},
			wantActions:  []Action{{Op: OpUpdate, LogicalPort: "lp1", Provider: "dummy", Remove: []Iface{ourIface("u2", "lp1-ex", "lp1", "dummy", onBrEx)}}},
			wantOutcomes: []Outcome{plugged("lp1", "dummy", "lp1")},
		},

		// ---- provider problems ----
		{
			name: "unknown provider in desired: error, nothing removed",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "nope", 0)),
				Ifaces: []Iface{lp1()}, Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "nope", StateError, "lp1")},
		},
		{
			name: "unknown provider in desired, nothing plugged: error",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "nope", 0)),
				Answers: ans("lp1", dummyAnswer("lp1")), UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "nope", StateError, "")},
		},
		{
			name: "disabled provider in desired: error, nothing removed",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "off", 0)),
				Ifaces: []Iface{lp1()}, Answers: ans("lp1", dummyAnswer("lp1")), Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "off", StateError, "lp1")},
		},
		{
			name: "provider not ready: pending",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Answers: ans("lp1", errAnswer(providers.NotReady("no representor for vf %d", 3))), UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "other", StatePending, "")},
		},
		{
			name: "provider not ready (wrapped): pending",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Answers: ans("lp1", errAnswer(fmt.Errorf("lookup: %w", providers.NotReady("settling")))), UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "other", StatePending, "")},
		},
		{
			name: "provider timed out: pending",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Answers: ans("lp1", errAnswer(fmt.Errorf("%w after 1s", ErrPrepareTimeout))), UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "other", StatePending, "")},
		},
		{
			name: "provider not ready with a plugged port: pending, port left",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Ifaces:  []Iface{ourIface("u1", "eth-old", "lp1", "other")},
				Answers: ans("lp1", errAnswer(providers.NotReady("gone"))), Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "other", StatePending, "eth-old")},
		},
		{
			name: "provider has not answered: pending",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces: []Iface{lp1(withMTU(1))}, UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "dummy", StatePending, "lp1")},
		},
		{
			name: "provider invalid: error, no actions",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Answers: ans("lp1", errAnswer(providers.Invalid("bad pf-mac %q", "zz"))), UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "other", StateError, "")},
		},
		{
			name: "provider invalid with a plugged port: error, port left",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Ifaces:  []Iface{ourIface("u1", "eth-old", "lp1", "other")},
				Answers: ans("lp1", errAnswer(providers.Invalid("bad"))), Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "other", StateError, "eth-old")},
		},
		{
			name: "provider returned no name: error",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Answers: ans("lp1", otherAnswer("")), UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "other", StateError, "")},
		},
		{
			// OVSDB would store U+FFFD for the cut byte, the names would
			// never match, and every pass would replug.
			name: "name cut inside a character: error, nothing written",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Answers: ans("lp1", dummyAnswer("x6abcdefghijkl\xf0")), UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "dummy", StateError, "")},
		},
		{
			name: "invalid name with a plugged port: error, port left as it is",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "dummy", 0)),
				Ifaces:  []Iface{ourIface("u1", "x6abcdefghijkl\uFFFD", "lp1", "dummy")},
				Answers: ans("lp1", dummyAnswer("x6abcdefghijkl\xf0")), Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "dummy", StateError, "x6abcdefghijkl\uFFFD")},
		},
		{
			name: "system interface name over 15 bytes: error",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Answers: ans("lp1", otherAnswer("sixteen_bytes_xx")), UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "other", StateError, "")},
		},
		{
			name: "option value with NUL: error",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Answers: ans("lp1", optsAnswer("pf0vf1", map[string]string{"k": "a\x00"}, nil)), UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "other", StateError, "")},
		},
		{
			name: "provider returned nil out: error",
			in: PlanInput{Keys: []string{"lp1"}, Desired: one("lp1", desiredFor("lp1", "other", 0)),
				Answers: ans("lp1", Answer{}), UnplugAllowed: true},
			wantOutcomes: []Outcome{state("lp1", "other", StateError, "")},
		},

		// ---- several keys ----
		{
			name: "several keys in one plan, outcomes in key order",
			in: PlanInput{Keys: []string{"lp3", "lp1", "lp2", "lp4"},
				Desired: map[string]Desired{
					"lp1": desiredFor("lp1", "dummy", 0),
					"lp2": desiredFor("lp2", "dummy", 420),
					"lp4": desiredFor("lp4", "other", 0),
				},
				Ifaces: []Iface{ourIface("u2", "lp2", "lp2", "dummy"), ourIface("u3", "lp3", "lp3", "dummy")},
				Answers: map[string]Answer{
					"lp1": dummyAnswer("lp1"), "lp2": dummyAnswer("lp2"),
					"lp4": errAnswer(providers.NotReady("x")),
				},
				Consent: map[string]error{"u3": nil}, UnplugAllowed: true},
			wantActions: []Action{
				{Op: OpPlug, LogicalPort: "lp1", Provider: "dummy", Create: dummyCreate("lp1", "lp1", 0)},
				{Op: OpUpdate, LogicalPort: "lp2", Provider: "dummy", Update: &Update{IfaceUUID: "u2", SetMTU: true, MTURequest: 420}},
				{Op: OpUnplug, LogicalPort: "lp3", Provider: "dummy", Remove: []Iface{ourIface("u3", "lp3", "lp3", "dummy")}},
			},
			wantOutcomes: []Outcome{
				plugged("lp1", "dummy", "lp1"), plugged("lp2", "dummy", "lp2"),
				gone("lp3", "dummy"), state("lp4", "other", StatePending, ""),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runPlanCase(t, tc) })
	}
}

// TestPlanUnplugTriggers derives Desired from Port_Bindings with
// ConsiderBinding, as the engine does, and checks every way a plugged port
// stops being wanted here.
func TestPlanUnplugTriggers(t *testing.T) {
	plugOpts := map[string]string{OptPlugType: "dummy"}
	triggers := []struct {
		name    string
		binding *Binding // nil: no binding for the iface-id
	}{
		{"no binding", nil},
		{"requested_chassis is another chassis", &Binding{LogicalPort: "lp1", RequestedChassis: "uuid-chassis-other", Options: plugOpts}},
		{"requested_chassis is empty", &Binding{LogicalPort: "lp1", Options: plugOpts}},
		{"type localport", &Binding{LogicalPort: "lp1", Type: "localport", RequestedChassis: testChassis, Options: plugOpts}},
		{"type virtual", &Binding{LogicalPort: "lp1", Type: "virtual", RequestedChassis: testChassis, Options: plugOpts}},
		{"parent_port set", &Binding{LogicalPort: "lp1", ParentPort: "vm1", RequestedChassis: testChassis, Options: plugOpts}},
		{"vif-plug-type removed (withdrawal)", &Binding{LogicalPort: "lp1", RequestedChassis: testChassis, Options: map[string]string{OptMTURequest: "420"}}},
	}
	iface := ourIface("u1", "lp1", "lp1", "dummy")
	for _, tr := range triggers {
		t.Run(tr.name, func(t *testing.T) {
			desired := map[string]Desired{}
			if tr.binding != nil {
				if d, ok := ConsiderBinding(*tr.binding, testChassis); ok {
					desired["lp1"] = d
				}
			}
			base := PlanInput{Keys: []string{"lp1"}, Desired: desired, Ifaces: []Iface{iface},
				Answers: map[string]Answer{"lp1": dummyAnswer("lp1")}}

			t.Run("gate open, consent", func(t *testing.T) {
				in := base
				in.UnplugAllowed = true
				in.Consent = map[string]error{"u1": nil}
				runPlanCase(t, planCase{in: in,
					wantActions:  []Action{{Op: OpUnplug, LogicalPort: "lp1", Provider: "dummy", Remove: []Iface{iface}}},
					wantOutcomes: []Outcome{{LogicalPort: "lp1", Provider: "dummy", State: StateGone}},
				})
			})
			t.Run("gate open, consent not asked yet", func(t *testing.T) {
				in := base
				in.UnplugAllowed = true
				runPlanCase(t, planCase{in: in, ignoreOutcomes: true, wantNeedConsent: []string{"u1"}})
			})
			t.Run("gate open, refused", func(t *testing.T) {
				in := base
				in.UnplugAllowed = true
				in.Consent = map[string]error{"u1": errors.New("no")}
				runPlanCase(t, planCase{in: in,
					wantOutcomes: []Outcome{{LogicalPort: "lp1", Provider: "dummy", State: StateUnplugBlocked, Interface: "lp1"}}})
			})
			t.Run("gate closed", func(t *testing.T) {
				in := base
				in.Consent = map[string]error{"u1": nil}
				runPlanCase(t, planCase{in: in,
					wantOutcomes: []Outcome{{LogicalPort: "lp1", Provider: "dummy", State: StateUnplugBlocked, Interface: "lp1"}}})
			})
		})
	}

	// Control: a considered binding with vif-plug-type keeps the port.
	t.Run("considered binding keeps the port", func(t *testing.T) {
		d, ok := ConsiderBinding(Binding{LogicalPort: "lp1", RequestedChassis: testChassis, Options: plugOpts}, testChassis)
		if !ok {
			t.Fatal("local VIF binding not considered")
		}
		runPlanCase(t, planCase{
			in: PlanInput{Keys: []string{"lp1"}, Desired: map[string]Desired{"lp1": d}, Ifaces: []Iface{iface},
				Answers: map[string]Answer{"lp1": dummyAnswer("lp1")}, Consent: map[string]error{"u1": nil}, UnplugAllowed: true},
			wantOutcomes: []Outcome{{LogicalPort: "lp1", Provider: "dummy", State: StatePlugged, Interface: "lp1"}},
		})
	})
}

// TestPlanTypeChangeTwoPasses runs the plan the way the engine does: plan,
// ask the providers named in NeedConsent, plan again.
func TestPlanTypeChangeTwoPasses(t *testing.T) {
	old := ourIface("u1", "lp1", "lp1", "dummy")
	in := withDefaults(PlanInput{
		Keys:          []string{"lp1"},
		Desired:       map[string]Desired{"lp1": desiredFor("lp1", "other", 0)},
		Ifaces:        []Iface{old},
		Answers:       map[string]Answer{"lp1": otherAnswer("lp1")},
		Consent:       map[string]error{},
		UnplugAllowed: true,
	})
	first := Plan(in)
	if len(first.Actions) != 0 {
		t.Fatalf("first plan acted before the old provider consented:\n%s", describeActions(first.Actions))
	}
	if !slices.Equal(first.NeedConsent, []string{"u1"}) {
		t.Fatalf("first plan NeedConsent = %v, want [u1]", first.NeedConsent)
	}
	for _, o := range first.Outcomes {
		if o.LogicalPort == "lp1" && (o.State == StatePlugged || o.State == StateGone) {
			t.Errorf("first plan reports %q before anything happened", o.State)
		}
	}
	for _, uuid := range first.NeedConsent {
		in.Consent[uuid] = nil
	}
	second := Plan(in)
	want := []Action{{Op: OpReplug, LogicalPort: "lp1", Provider: "other", Remove: []Iface{old},
		Create: createFor("lp1", "other", "lp1", "", nil, 0)}}
	if got := normActions(second.Actions); !reflect.DeepEqual(got, normActions(want)) {
		t.Errorf("second plan actions:\ngot:\n%swant:\n%s", describeActions(got), describeActions(want))
	}
	if len(second.NeedConsent) != 0 {
		t.Errorf("second plan still needs consent: %v", second.NeedConsent)
	}
	wantOut := []Outcome{{LogicalPort: "lp1", Provider: "other", State: StatePlugged, Interface: "lp1"}}
	if got := stripReasons(second.Outcomes); !reflect.DeepEqual(got, wantOut) {
		t.Errorf("second plan outcomes = %+v, want %+v", got, wantOut)
	}
}

// TestPlanGateDoesNotBlockPlugUpdateReplug: the priming gate holds back
// unplug only.
func TestPlanGateDoesNotBlockPlugUpdateReplug(t *testing.T) {
	d := func(typ string, mtu int) map[string]Desired {
		return map[string]Desired{"lp1": desiredFor("lp1", typ, mtu)}
	}
	cases := []struct {
		name   string
		in     PlanInput
		wantOp Op
	}{
		{"plug", PlanInput{Keys: []string{"lp1"}, Desired: d("dummy", 420), Answers: map[string]Answer{"lp1": dummyAnswer("lp1")}}, OpPlug},
		{"update", PlanInput{Keys: []string{"lp1"}, Desired: d("dummy", 420),
			Ifaces: []Iface{ourIface("u1", "lp1", "lp1", "dummy")}, Answers: map[string]Answer{"lp1": dummyAnswer("lp1")}}, OpUpdate},
		{"update restoring ovn-plugged", PlanInput{Keys: []string{"lp1"}, Desired: d("dummy", 0),
			Ifaces: []Iface{ourIface("u1", "lp1", "lp1", "bogus")}, Answers: map[string]Answer{"lp1": dummyAnswer("lp1")}}, OpUpdate},
		{"update removing a foreign-bridge copy", PlanInput{Keys: []string{"lp1"}, Desired: d("dummy", 0),
			Ifaces:  []Iface{ourIface("u1", "lp1", "lp1", "dummy"), ourIface("u2", "x", "lp1", "dummy", onBrEx)},
			Answers: map[string]Answer{"lp1": dummyAnswer("lp1")}, Consent: map[string]error{"u2": nil}}, OpUpdate},
		{"type change replug", PlanInput{Keys: []string{"lp1"}, Desired: d("other", 0),
			Ifaces: []Iface{ourIface("u1", "lp1", "lp1", "dummy")}, Answers: map[string]Answer{"lp1": otherAnswer("lp1")},
			Consent: map[string]error{"u1": nil}}, OpReplug},
		{"name change replug", PlanInput{Keys: []string{"lp1"}, Desired: d("other", 0),
			Ifaces: []Iface{ourIface("u1", "eth-old", "lp1", "other")}, Answers: map[string]Answer{"lp1": otherAnswer("eth-new")},
			Consent: map[string]error{"u1": nil}}, OpReplug},
		{"foreign bridge replug", PlanInput{Keys: []string{"lp1"}, Desired: d("dummy", 0),
			Ifaces: []Iface{ourIface("u1", "lp1", "lp1", "dummy", onBrEx)}, Answers: map[string]Answer{"lp1": dummyAnswer("lp1")},
			Consent: map[string]error{"u1": nil}}, OpReplug},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			open, closed := withDefaults(tc.in), withDefaults(tc.in)
			open.UnplugAllowed, closed.UnplugAllowed = true, false
			ro, rc := Plan(open), Plan(closed)
			if len(rc.Actions) != 1 || rc.Actions[0].Op != tc.wantOp {
				t.Fatalf("gate closed: actions\n%swant one %s", describeActions(rc.Actions), tc.wantOp)
			}
			if !reflect.DeepEqual(ro, rc) {
				t.Errorf("gate changes the result:\nopen:\n%sclosed:\n%s", describeActions(ro.Actions), describeActions(rc.Actions))
			}
			for _, o := range rc.Outcomes {
				if o.State != StatePlugged {
					t.Errorf("gate closed: outcome %+v, want plugged", o)
				}
			}
			for _, err := range checkPlanInvariants(closed, rc) {
				t.Errorf("invariant: %v", err)
			}
		})
	}
}

// checkPlanInvariants returns the contract's invariants that res breaks.
func checkPlanInvariants(in PlanInput, res PlanResult) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	providerState := func(typ string) ProviderState { return in.Providers[typ] }

	byUUID := map[string]Iface{}
	byName := map[string]Iface{}
	for _, i := range in.Ifaces {
		byUUID[i.UUID] = i
		byName[i.Name] = i
	}
	keys := map[string]bool{}
	for _, k := range in.Keys {
		keys[k] = true
	}
	isOurs := func(i Iface) bool { return i.ExternalIDs[ExtOvnPlugged] != "" && i.ExternalIDs[ExtIfaceID] != "" }

	removed := map[string]string{}
	created := map[string]string{}
	actionFor := map[string]Op{}
	for _, a := range res.Actions {
		if !keys[a.LogicalPort] {
			bad("action %s for %q, which is not a planned key", a.Op, a.LogicalPort)
		}
		if op, dup := actionFor[a.LogicalPort]; dup {
			bad("two actions (%s, %s) for %q", op, a.Op, a.LogicalPort)
		}
		actionFor[a.LogicalPort] = a.Op

		switch a.Op {
		case OpPlug:
			if a.Create == nil || a.Update != nil || len(a.Remove) != 0 {
				bad("%s %q: plug must only create", a.Op, a.LogicalPort)
			}
		case OpReplug:
			if a.Create == nil || a.Update != nil || len(a.Remove) == 0 {
				bad("%s %q: replug must remove and create", a.Op, a.LogicalPort)
			}
		case OpUpdate:
			if a.Create != nil || (a.Update == nil && len(a.Remove) == 0) {
				bad("%s %q: update without an update", a.Op, a.LogicalPort)
			}
		case OpUnplug:
			if a.Create != nil || a.Update != nil || len(a.Remove) == 0 {
				bad("%s %q: unplug must only remove", a.Op, a.LogicalPort)
			}
			if !in.UnplugAllowed {
				bad("unplug of %q while the priming gate is closed", a.LogicalPort)
			}
		default:
			bad("unknown op %q", a.Op)
		}

		if a.Op != OpUnplug {
			d, ok := in.Desired[a.LogicalPort]
			if !ok || d.PlugType == "" {
				bad("%s %q without a binding that wants plugging", a.Op, a.LogicalPort)
			} else if a.Provider != d.PlugType {
				bad("%s %q by provider %q, binding wants %q", a.Op, a.LogicalPort, a.Provider, d.PlugType)
			}
			if providerState(a.Provider) != ProviderEnabled {
				bad("%s %q by provider %q, which is not enabled", a.Op, a.LogicalPort, a.Provider)
			}
			if ans, ok := in.Answers[a.LogicalPort]; !ok || ans.Err != nil || ans.Out == nil {
				bad("%s %q without a good provider answer", a.Op, a.LogicalPort)
			}
		}

		if u := a.Update; u != nil {
			i, ok := byUUID[u.IfaceUUID]
			switch {
			case !ok:
				bad("update of unknown interface %s", u.IfaceUUID)
			case !isOurs(i):
				bad("update of interface %s (%s), which has no ovn-plugged/iface-id", i.Name, i.UUID)
			case i.ExternalIDs[ExtIfaceID] != a.LogicalPort:
				bad("update for %q touches interface %s of iface-id %q", a.LogicalPort, i.Name, i.ExternalIDs[ExtIfaceID])
			}
			if u.Empty() {
				bad("empty update for %q", a.LogicalPort)
			}
			for k := range u.SetExtIDs {
				if k != ExtIfaceID && k != ExtOvnPlugged {
					bad("update for %q writes external_ids:%s, which the sidecar does not own", a.LogicalPort, k)
				}
			}
			if u.SetMTU && u.MTURequest < 0 {
				bad("negative mtu_request %d", u.MTURequest)
			}
		}

		removedHere := map[string]bool{}
		for _, r := range a.Remove {
			i, ok := byUUID[r.UUID]
			if !ok {
				bad("removal of unknown interface %s", r.UUID)
				continue
			}
			if !isOurs(i) {
				bad("removal of interface %s (%s), which has no ovn-plugged/iface-id", i.Name, i.UUID)
			}
			if i.ExternalIDs[ExtIfaceID] != a.LogicalPort {
				bad("%s for %q removes interface %s of iface-id %q", a.Op, a.LogicalPort, i.Name, i.ExternalIDs[ExtIfaceID])
			}
			if !reflect.DeepEqual(r, i) {
				bad("Remove entry %+v differs from the interface %+v", r, i)
			}
			if err, asked := in.Consent[r.UUID]; !asked || err != nil {
				bad("removal of %s (%s) without consent (asked=%v, err=%v)", i.Name, i.UUID, asked, err)
			}
			if prev, dup := removed[r.UUID]; dup {
				bad("interface %s removed twice (%s and %s)", r.UUID, prev, a.LogicalPort)
			}
			removed[r.UUID] = a.LogicalPort
			removedHere[r.UUID] = true
		}

		if c := a.Create; c != nil {
			if c.BridgeUUID != in.BridgeUUID {
				bad("create %s on bridge %q, not the integration bridge %q", c.Name, c.BridgeUUID, in.BridgeUUID)
			}
			if c.Name == "" {
				bad("create for %q with no name", a.LogicalPort)
			}
			if holder, taken := byName[c.Name]; taken && !removedHere[holder.UUID] {
				bad("%s %q creates name %s, which interface %s (iface-id %q) still holds", a.Op, a.LogicalPort, c.Name, holder.UUID, holder.ExternalIDs[ExtIfaceID])
			}
			if prev, dup := created[c.Name]; dup {
				bad("name %s created for both %q and %q", c.Name, prev, a.LogicalPort)
			}
			created[c.Name] = a.LogicalPort
			want := map[string]string{ExtIfaceID: a.LogicalPort, ExtOvnPlugged: a.Provider}
			if !reflect.DeepEqual(c.ExternalIDs, want) {
				bad("create %s external_ids %v, want %v", c.Name, c.ExternalIDs, want)
			}
			if c.MTURequest < 0 {
				bad("create %s with negative mtu_request", c.Name)
			}
			if d, ok := in.Desired[a.LogicalPort]; ok && c.MTURequest != d.MTURequest {
				bad("create %s mtu_request %d, binding wants %d", c.Name, c.MTURequest, d.MTURequest)
			}
			if ans, ok := in.Answers[a.LogicalPort]; ok && ans.Out != nil {
				if c.Name != ans.Out.Name || c.Type != ans.Out.Type || !maps.Equal(c.Options, ans.Out.IfaceOptions) {
					bad("create %+v differs from the provider's answer %+v", *c, *ans.Out)
				}
			}
		}
	}

	for _, uuid := range res.NeedConsent {
		i, ok := byUUID[uuid]
		if !ok {
			bad("consent asked for unknown interface %s", uuid)
			continue
		}
		if !isOurs(i) {
			bad("consent asked for interface %s, which is not ours", uuid)
		}
		if _, asked := in.Consent[uuid]; asked {
			bad("consent asked again for %s", uuid)
		}
	}

	outcomeFor := map[string]Outcome{}
	for _, o := range res.Outcomes {
		if !keys[o.LogicalPort] {
			bad("outcome for %q, which is not a planned key", o.LogicalPort)
		}
		if _, dup := outcomeFor[o.LogicalPort]; dup {
			bad("two outcomes for %q", o.LogicalPort)
		}
		outcomeFor[o.LogicalPort] = o
	}
	for k, op := range actionFor {
		o, ok := outcomeFor[k]
		switch {
		case !ok:
			bad("action %s for %q without an outcome", op, k)
		case op == OpUnplug && o.State != StateGone:
			bad("unplug of %q with outcome %q", k, o.State)
		case op != OpUnplug && o.State != StatePlugged:
			bad("%s of %q with outcome %q", op, k, o.State)
		}
	}
	for k, o := range outcomeFor {
		if _, acted := actionFor[k]; acted {
			continue
		}
		if o.State == StateGone {
			// Gone without an action: nothing of ours carries this iface-id.
			for _, i := range in.Ifaces {
				if isOurs(i) && i.ExternalIDs[ExtIfaceID] == k {
					bad("%q reported gone but interface %s is still plugged", k, i.Name)
				}
			}
		}
	}
	for _, k := range res.Conflicts {
		if o := outcomeFor[k]; o.State != StateConflict {
			bad("conflict %q has outcome %q", k, o.State)
		}
	}
	for k, o := range outcomeFor {
		if o.State == StateConflict && !slices.Contains(res.Conflicts, k) {
			bad("%q in conflict but not in Conflicts", k)
		}
	}
	return errs
}

// cloneInput deep-copies the input.
func cloneInput(in PlanInput) PlanInput {
	out := in
	out.Keys = slices.Clone(in.Keys)
	if in.Desired != nil {
		out.Desired = map[string]Desired{}
		for k, d := range in.Desired {
			d.Options = maps.Clone(d.Options)
			out.Desired[k] = d
		}
	}
	if in.Ifaces != nil {
		out.Ifaces = make([]Iface, len(in.Ifaces))
		for n, i := range in.Ifaces {
			i.Options = maps.Clone(i.Options)
			i.ExternalIDs = maps.Clone(i.ExternalIDs)
			if i.MTURequest != nil {
				i.MTURequest = ptr(*i.MTURequest)
			}
			out.Ifaces[n] = i
		}
	}
	if in.Answers != nil {
		out.Answers = map[string]Answer{}
		for k, a := range in.Answers {
			if a.Out != nil {
				o := *a.Out
				o.IfaceOptions = maps.Clone(o.IfaceOptions)
				a.Out = &o
			}
			a.Maintained = slices.Clone(a.Maintained)
			out.Answers[k] = a
		}
	}
	out.Consent = maps.Clone(in.Consent)
	out.Providers = maps.Clone(in.Providers)
	return out
}

func sameInput(a, b PlanInput) bool {
	return reflect.DeepEqual(a, b)
}

type planGen struct{ r *rand.Rand }

func (g planGen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }
func (g planGen) chance(pct int) bool      { return g.r.IntN(100) < pct }

func (g planGen) options() map[string]string {
	if g.chance(20) {
		return nil
	}
	m := map[string]string{}
	for _, k := range []string{"a", "b", "c", dummyOpt} {
		if g.chance(40) {
			m[k] = g.pick("1", "2", "value")
		}
	}
	return m
}

var (
	genKeys  = []string{"lp0", "lp1", "lp2", "lp3", "lp4"}
	genNames = []string{"lp0", "lp1", "lp2", "n0", "n1", "n2", "n3", "n4"}
)

func (g planGen) input() PlanInput {
	in := PlanInput{
		BridgeUUID:    testBrInt,
		BridgeName:    "br-int",
		Providers:     testProviders,
		Desired:       map[string]Desired{},
		Answers:       map[string]Answer{},
		Consent:       map[string]error{},
		UnplugAllowed: g.chance(50),
	}
	// Interfaces: unique names (OVS enforces that), UUIDs whose order
	// differs from the slice order.
	names := slices.Clone(genNames)
	g.r.Shuffle(len(names), func(a, b int) { names[a], names[b] = names[b], names[a] })
	n := g.r.IntN(7)
	uuids := g.r.Perm(n)
	for j := range n {
		if g.chance(35) {
			// A port plugged the usual way: named after its iface-id, on
			// br-int, by one of the providers, maybe slightly off.
			k := g.pick(genKeys...)
			if !slices.Contains(names[:j], k) && !slices.Contains(names[j+1:n], k) {
				names[j] = k
			}
			i := ourIface(fmt.Sprintf("u%02d", uuids[j]), names[j], k, g.pick("dummy", "dummy", "other", "bogus"))
			if g.chance(30) {
				i.Options = g.options()
			}
			if g.chance(20) {
				i.Type = g.pick("", "system")
			}
			if g.chance(30) {
				i.MTURequest = ptr([]int{420, 1500}[g.r.IntN(2)])
			}
			if g.chance(10) {
				i.BridgeUUID, i.BridgeName = testBrEx, "br-ex"
			}
			in.Ifaces = append(in.Ifaces, i)
			continue
		}
		ext := map[string]string{}
		if g.chance(80) {
			ext[ExtIfaceID] = g.pick(genKeys...)
		}
		if g.chance(65) {
			ext[ExtOvnPlugged] = g.pick("dummy", "other", "off", "bogus")
		}
		if g.chance(20) {
			ext["ovn-installed"] = "true"
		}
		i := Iface{
			UUID:        fmt.Sprintf("u%02d", uuids[j]),
			Name:        names[j],
			Type:        g.pick("", "internal", "system"),
			Options:     g.options(),
			ExternalIDs: ext,
			PortUUID:    fmt.Sprintf("p%02d", uuids[j]),
			BridgeUUID:  testBrInt,
			BridgeName:  "br-int",
		}
		if g.chance(25) {
			i.BridgeUUID, i.BridgeName = testBrEx, "br-ex"
		}
		if g.chance(30) {
			i.MTURequest = ptr([]int{420, 440, 1500}[g.r.IntN(3)])
		}
		in.Ifaces = append(in.Ifaces, i)
	}
	for _, k := range genKeys {
		if g.chance(25) {
			continue
		}
		typ := g.pick("dummy", "dummy", "other", "other", "off", "bogus", "")
		in.Desired[k] = desiredFor(k, typ, []int{0, 0, 420, 1500}[g.r.IntN(4)])
	}
	for _, k := range genKeys {
		switch v := g.r.IntN(100); {
		case v < 15:
			// not answered
		case v < 25:
			in.Answers[k] = errAnswer(providers.NotReady("hw"))
		case v < 32:
			in.Answers[k] = errAnswer(providers.Invalid("bad"))
		case v < 35:
			in.Answers[k] = otherAnswer("")
		default:
			var maintained []string
			switch g.r.IntN(3) {
			case 1:
				maintained = []string{"a", dummyOpt}
			case 2:
				maintained = []string{"a", "b", "c"}
			}
			name := g.pick(genNames...)
			if g.chance(70) {
				name = k // the usual case: named after the port
			}
			in.Answers[k] = Answer{
				Out:        &providers.PortCtxOut{Name: name, Type: g.pick("", "internal"), IfaceOptions: g.options()},
				Maintained: maintained,
			}
		}
	}
	for _, i := range in.Ifaces {
		switch v := g.r.IntN(100); {
		case v < 40:
			// not asked
		case v < 85:
			in.Consent[i.UUID] = nil
		default:
			in.Consent[i.UUID] = errors.New("refused")
		}
	}
	nk := g.r.IntN(8)
	for range nk {
		in.Keys = append(in.Keys, g.pick(genKeys...))
	}
	if g.chance(30) {
		// Plan everything, as a full resync would.
		in.Keys = append(in.Keys, genKeys...)
	}
	return in
}

// TestPlanProperty checks the contract's invariants on random inputs.
func TestPlanProperty(t *testing.T) {
	const cases = 2000
	var stats struct{ plug, update, replug, unplug, consent, conflict int }
	for seed := range uint64(cases) {
		g := planGen{r: rand.New(rand.NewPCG(seed, 0x5eed))}
		in := g.input()
		orig := cloneInput(in)

		res := Plan(in)
		if !sameInput(in, orig) {
			t.Fatalf("seed %d: Plan modified its input", seed)
		}
		if again := Plan(cloneInput(in)); !reflect.DeepEqual(res, again) {
			t.Fatalf("seed %d: Plan is not deterministic:\nfirst:\n%ssecond:\n%s", seed, describeActions(res.Actions), describeActions(again.Actions))
		}
		// Key order and duplicates do not matter.
		shuffled := cloneInput(in)
		shuffled.Keys = append(shuffled.Keys, shuffled.Keys...)
		g.r.Shuffle(len(shuffled.Keys), func(a, b int) { shuffled.Keys[a], shuffled.Keys[b] = shuffled.Keys[b], shuffled.Keys[a] })
		if other := Plan(shuffled); !reflect.DeepEqual(res, other) {
			t.Fatalf("seed %d: Plan depends on key order or duplicates (keys %v vs %v)", seed, in.Keys, shuffled.Keys)
		}
		for _, err := range checkPlanInvariants(in, res) {
			t.Errorf("seed %d, first plan: %v", seed, err)
		}

		// Second pass, as the engine does: answer every consent asked.
		if len(res.NeedConsent) > 0 {
			stats.consent++
			for _, uuid := range res.NeedConsent {
				if g.chance(80) {
					in.Consent[uuid] = nil
				} else {
					in.Consent[uuid] = errors.New("refused")
				}
			}
			res = Plan(in)
			for _, err := range checkPlanInvariants(in, res) {
				t.Errorf("seed %d, second plan: %v", seed, err)
			}
			if len(res.NeedConsent) != 0 {
				t.Errorf("seed %d: second plan asks for consent again: %v", seed, res.NeedConsent)
			}
		}
		// With every consent asked and answered, every key has an outcome.
		uniq := slices.Compact(slices.Sorted(slices.Values(in.Keys)))
		got := make([]string, 0, len(res.Outcomes))
		for _, o := range res.Outcomes {
			got = append(got, o.LogicalPort)
		}
		if !sort.StringsAreSorted(got) || !slices.Equal(got, uniq) {
			t.Errorf("seed %d: outcomes for %v, want one per key %v", seed, got, uniq)
		}

		for _, a := range res.Actions {
			switch a.Op {
			case OpPlug:
				stats.plug++
			case OpUpdate:
				stats.update++
			case OpReplug:
				stats.replug++
			case OpUnplug:
				stats.unplug++
			}
		}
		stats.conflict += len(res.Conflicts)
		if t.Failed() {
			t.Fatalf("seed %d failed; input keys %v ifaces %+v", seed, in.Keys, in.Ifaces)
		}
	}
	t.Logf("actions over %d cases: %+v", cases, stats)
	// The generator must reach every kind of action, or the property
	// proves little.
	if stats.plug == 0 || stats.update == 0 || stats.replug == 0 || stats.unplug == 0 || stats.consent == 0 || stats.conflict == 0 {
		t.Errorf("generator does not cover every case: %+v", stats)
	}
}

// TestPlanCauses: each outcome carries a typed cause, which the metrics
// use instead of matching reason texts.
func TestPlanCauses(t *testing.T) {
	plugged := ourIface("u1", "lp1", "lp1", "dummy")
	for _, tc := range []struct {
		what string
		in   PlanInput
		want Cause
	}{
		{"no answer yet", PlanInput{Desired: map[string]Desired{"lp1": desiredFor("lp1", "dummy", 0)}}, CauseNoAnswer},
		{"prepare timed out", PlanInput{Desired: map[string]Desired{"lp1": desiredFor("lp1", "dummy", 0)},
			Answers: map[string]Answer{"lp1": errAnswer(fmt.Errorf("%w after 2s", ErrPrepareTimeout))}}, CausePrepareTimeout},
		{"hardware not ready", PlanInput{Desired: map[string]Desired{"lp1": desiredFor("lp1", "dummy", 0)},
			Answers: map[string]Answer{"lp1": errAnswer(providers.NotReady("no VF yet"))}}, CauseNotReady},
		{"refused", PlanInput{Desired: map[string]Desired{"lp1": desiredFor("lp1", "dummy", 0)},
			Answers: map[string]Answer{"lp1": errAnswer(errors.New("bad option"))}}, CauseRefused},
		{"unusable answer", PlanInput{Desired: map[string]Desired{"lp1": desiredFor("lp1", "dummy", 0)},
			Answers: map[string]Answer{"lp1": dummyAnswer("a/b")}}, CauseBadAnswer},
		{"unknown provider", PlanInput{Desired: map[string]Desired{"lp1": desiredFor("lp1", "bogus", 0)}}, CauseProviderUnknown},
		{"disabled provider", PlanInput{Desired: map[string]Desired{"lp1": desiredFor("lp1", "off", 0)}}, CauseProviderDisabled},
		{"foreign iface-id", PlanInput{Desired: map[string]Desired{"lp1": desiredFor("lp1", "dummy", 0)},
			Ifaces:  []Iface{plainIface("f1", "x", map[string]string{ExtIfaceID: "lp1"})},
			Answers: map[string]Answer{"lp1": dummyAnswer("lp1")}}, CauseConflictIfaceID},
		{"name taken", PlanInput{Desired: map[string]Desired{"lp1": desiredFor("lp1", "dummy", 0)},
			Ifaces:  []Iface{plainIface("f1", "lp1", nil)},
			Answers: map[string]Answer{"lp1": dummyAnswer("lp1")}}, CauseConflictName},
		{"unplug gated", PlanInput{Ifaces: []Iface{plugged}}, CauseUnplugGated},
		{"unplug refused", PlanInput{Ifaces: []Iface{plugged}, UnplugAllowed: true, Consent: map[string]error{"u1": errors.New("no")}}, CauseRemoveBlocked},
		{"unplugged", PlanInput{Ifaces: []Iface{plugged}, UnplugAllowed: true, Consent: map[string]error{"u1": nil}}, CauseUnplugged},
		{"awaiting the chassis", PlanInput{Awaiting: map[string]bool{"lp1": true}}, CauseAwaitingChassis},
		{"plugged", PlanInput{Desired: map[string]Desired{"lp1": desiredFor("lp1", "dummy", 0)}, Ifaces: []Iface{plugged},
			Answers: map[string]Answer{"lp1": dummyAnswer("lp1")}}, CauseNone},
		{"OVS error", PlanInput{Desired: map[string]Desired{"lp1": desiredFor("lp1", "dummy", 0)},
			Ifaces:  []Iface{ourIface("u1", "lp1", "lp1", "dummy", func(i *Iface) { i.Error = "could not open" })},
			Answers: map[string]Answer{"lp1": dummyAnswer("lp1")}}, CauseOVSError},
	} {
		in := tc.in
		in.Keys = []string{"lp1"}
		in.BridgeUUID, in.BridgeName = testBrInt, "br-int"
		in.Providers = testProviders
		res := Plan(in)
		if len(res.Outcomes) != 1 || res.Outcomes[0].Cause != tc.want {
			t.Errorf("%s: outcomes %+v, want one with cause %q", tc.what, res.Outcomes, tc.want)
		}
	}
}
