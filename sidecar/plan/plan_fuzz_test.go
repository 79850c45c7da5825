package plan

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

// ovsStored is s as ovsdb-server stores it: libovsdb encodes with
// encoding/json, which turns each byte that is not valid UTF-8 into
// U+FFFD.
func ovsStored(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a string always marshals
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

func ovsStoredMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[ovsStored(k)] = ovsStored(v)
	}
	return out
}

// applyPlan returns the interfaces as OVS holds them once res's actions
// have committed: removed interfaces gone, created ones stored the way
// ovsdb-server stores them, updates applied.
func applyPlan(in PlanInput, res PlanResult) []Iface {
	gone := map[string]bool{}
	for _, a := range res.Actions {
		for _, r := range a.Remove {
			gone[r.UUID] = true
		}
	}
	byUUID := map[string]*Iface{}
	var out []Iface
	for _, i := range in.Ifaces {
		if !gone[i.UUID] {
			i.Options, i.ExternalIDs = maps.Clone(i.Options), maps.Clone(i.ExternalIDs)
			out = append(out, i)
		}
	}
	for n := range out {
		byUUID[out[n].UUID] = &out[n]
	}
	var created []Iface
	for n, a := range res.Actions {
		if c := a.Create; c != nil {
			i := Iface{
				UUID:        fmt.Sprintf("created-%d", n),
				Name:        ovsStored(c.Name),
				Type:        ovsStored(c.Type),
				Options:     ovsStoredMap(c.Options),
				ExternalIDs: ovsStoredMap(c.ExternalIDs),
				BridgeUUID:  c.BridgeUUID,
				BridgeName:  in.BridgeName,
			}
			i.PortUUID = "port-" + i.UUID
			if c.MTURequest > 0 {
				i.MTURequest = ptr(c.MTURequest)
			}
			created = append(created, i)
		}
		u := a.Update
		if u == nil {
			continue
		}
		i := byUUID[u.IfaceUUID]
		if i == nil {
			continue // checkPlanInvariants reports it
		}
		if u.Type != nil {
			i.Type = ovsStored(*u.Type)
		}
		if i.ExternalIDs == nil {
			i.ExternalIDs = map[string]string{}
		}
		maps.Copy(i.ExternalIDs, ovsStoredMap(u.SetExtIDs))
		if i.Options == nil {
			i.Options = map[string]string{}
		}
		maps.Copy(i.Options, ovsStoredMap(u.SetOptions))
		for _, k := range u.DelOptions {
			delete(i.Options, ovsStored(k))
		}
		if u.SetMTU {
			i.MTURequest = nil
			if u.MTURequest > 0 {
				i.MTURequest = ptr(u.MTURequest)
			}
		}
	}
	return append(out, created...)
}

// validIfaceName is the rule an interface name must follow to be
// written (see providers.CheckAnswer): valid UTF-8, not empty, no '/' or
// NUL, and at most 15 bytes for the kernel netdev types.
func validIfaceName(name, typ string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty name")
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not valid UTF-8", name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("name %q contains '/' or NUL", name)
	}
	switch typ {
	case "", "system", "internal", "tap":
		if len(name) > 15 {
			return fmt.Errorf("%s name %q is %d bytes, over 15", typ, name, len(name))
		}
	}
	return nil
}

// FuzzPlan plans with names and options built from arbitrary bytes:
// logical ports, the providers' answers and the interfaces already in OVS.
// The plan must not panic, must keep the contract's invariants, must
// create only interfaces with valid names, and planning again on its own
// result, as OVS stores it, must change nothing (see below for the one
// bounded exception).
func FuzzPlan(f *testing.F) {
	// The replug loop of issue 9: the dummy name cut inside the emoji.
	f.Add("x6abcdefghijkl😀", "lsp2", "x6abcdefghijkl\xf0", "lsp2", "k", "v", 0, "", "", uint8(0))
	f.Add("lsp1", "lsp2", "lsp1", "lsp2", dummyOpt, "value", 1500, "lsp1", "old", uint8(0b00111))
	f.Add("a/b", "lsp2", "a/b", "eth0", "k\x00", "v\xff", -5, "eth0", "", uint8(0b11010))
	f.Add("long-logical-port-a", "long-logical-port-b", "long-logical-", "long-logical-", "", "", 9000, "long-logical-", "x", uint8(0b101101))
	f.Add("p", "p", "", "twentycharacters-long", "opt", strings.Repeat("v", 1<<10), 0, "twentycharacters-long", "", uint8(0b1000000))
	f.Fuzz(func(t *testing.T, k1, k2, name1, name2, optKey, optVal string, mtu int, ifName, ifOpt string, flags uint8) {
		bit := func(n uint) bool { return flags&(1<<n) != 0 }
		in := PlanInput{
			Keys:          []string{k1, k2},
			Desired:       map[string]Desired{},
			BridgeUUID:    testBrInt,
			BridgeName:    "br-int",
			Providers:     testProviders,
			Answers:       map[string]Answer{},
			Consent:       map[string]error{},
			UnplugAllowed: !bit(5),
		}
		// k1 is plugged by dummy; k2 by other, or withdrawn.
		in.Desired[k1] = Desired{LogicalPort: k1, PlugType: "dummy", MTURequest: max(mtu, 0), Options: map[string]string{optKey: optVal}}
		var maintained []string
		if bit(0) {
			maintained = []string{dummyOpt, optKey}
		}
		in.Answers[k1] = optsAnswer(name1, map[string]string{dummyOpt: "value", optKey: optVal}, maintained)
		if k2 != k1 {
			if bit(1) {
				in.Desired[k2] = desiredFor(k2, "", 0)
			} else {
				in.Desired[k2] = desiredFor(k2, "other", 0)
				in.Answers[k2] = otherAnswer(name2)
			}
		}
		// What OVS already holds, as it stores it.
		stored, storedOpt := ovsStored(ifName), ovsStored(ifOpt)
		if bit(2) {
			in.Ifaces = append(in.Ifaces, ourIface("uuid-a", stored, ovsStored(k1), "dummy", func(i *Iface) {
				i.Options[ovsStored(optKey)] = storedOpt
				if bit(6) {
					onBrEx(i)
				}
			}))
		} else if bit(3) && stored != "" {
			in.Ifaces = append(in.Ifaces, plainIface("uuid-a", stored, nil))
		}
		if bit(4) && ovsStored(name2) != stored {
			in.Ifaces = append(in.Ifaces, ourIface("uuid-b", ovsStored(name2), ovsStored(k2), "other", func(i *Iface) { i.Type = "" }))
		}
		if bit(7) {
			in.Ifaces = append(in.Ifaces, plainIface("uuid-c", "foreign0", map[string]string{ExtIfaceID: ovsStored(k1)}))
		}
		for _, i := range in.Ifaces {
			in.Consent[i.UUID] = nil
		}

		res := Plan(in)
		for _, err := range checkPlanInvariants(in, res) {
			t.Errorf("first plan: %v", err)
		}
		if len(res.NeedConsent) > 0 {
			t.Fatalf("asked for consent %v although every interface has it", res.NeedConsent)
		}
		for _, a := range res.Actions {
			if c := a.Create; c != nil {
				if err := validIfaceName(c.Name, c.Type); err != nil {
					t.Errorf("%s of %q creates an interface with an invalid name: %v", a.Op, a.LogicalPort, err)
				}
				if err := providers.CheckAnswer(&providers.PortCtxOut{Name: c.Name, Type: c.Type, IfaceOptions: c.Options}); err != nil {
					t.Errorf("%s of %q creates what CheckAnswer refuses: %v", a.Op, a.LogicalPort, err)
				}
			}
		}

		// Planning again on the result, as OVS stores it, changes nothing.
		// The one exception: a port in conflict over a name that the same
		// plan frees (by unplugging or replugging its holder) is plugged
		// by the next pass, which the engine runs because it requeues the
		// port that wants a name when that name's interface changes.
		// Every such pass resolves a conflict, so the passes are bounded.
		cur, prev := in, res
		for pass := 2; ; pass++ {
			cur.Ifaces = applyPlan(cur, prev)
			cur.Consent = map[string]error{}
			for _, i := range cur.Ifaces {
				cur.Consent[i.UUID] = nil
			}
			next := Plan(cur)
			for _, err := range checkPlanInvariants(cur, next) {
				t.Errorf("plan %d: %v", pass, err)
			}
			if len(next.Actions) == 0 {
				break
			}
			if len(prev.Conflicts) == 0 || pass > len(in.Keys)+1 {
				t.Fatalf("plan %d on the result of plan %d is not a no-op (conflicts before: %v):\nbefore:\n%sagain:\n%s",
					pass, pass-1, prev.Conflicts, describeActions(prev.Actions), describeActions(next.Actions))
			}
			for _, a := range next.Actions {
				if a.Create != nil && validIfaceName(a.Create.Name, a.Create.Type) != nil {
					t.Errorf("plan %d: %s of %q creates an interface with an invalid name %q", pass, a.Op, a.LogicalPort, a.Create.Name)
				}
			}
			prev = next
		}
	})
}
