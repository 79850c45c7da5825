package sidecar

import (
	"strings"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

func TestForeignWritesNoteOnceThenExpire(t *testing.T) {
	f := newForeignWrites()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	row := &vswitch.Interface{Name: "lsp1", ExternalIDs: map[string]string{plan.ExtIfaceID: "lsp1", plan.ExtOvnPlugged: "dummy"}}
	if _, _, ok := f.recent("lsp1", t0); ok {
		t.Fatal("a note before any change")
	}
	f.note(row, "changed", t0)
	w, first, ok := f.recent("lsp1", t0.Add(time.Second))
	if !ok || !first || !strings.Contains(w.reason(), "another agent changed interface lsp1 at 2026-01-02T03:04:05Z") {
		t.Fatalf("recent = %+v, first %v, ok %v; reason %q", w, first, ok, w.reason())
	}
	if _, first, ok := f.recent("lsp1", t0.Add(time.Minute)); !ok || first {
		t.Fatalf("second read: first %v ok %v, want a note told already", first, ok)
	}
	if _, _, ok := f.recent("lsp1", t0.Add(foreignNoteFor)); ok {
		t.Fatal("the note outlived foreignNoteFor")
	}
	f.note(row, "deleted", t0)
	f.forget("lsp1")
	if _, _, ok := f.recent("lsp1", t0); ok {
		t.Fatal("a forgotten note is still there")
	}
}

// Only a plugger's columns make a change foreign: ovs-vswitchd's error and
// ovn-controller's external_ids keys do not.
func TestIndexListsOnlyPluggerChanges(t *testing.T) {
	mtu := 1450
	base := func() *vswitch.Interface {
		return &vswitch.Interface{UUID: "u1", Name: "lsp1", Type: "internal",
			ExternalIDs: map[string]string{plan.ExtIfaceID: "lsp1", plan.ExtOvnPlugged: "dummy"},
			Options:     map[string]string{"vif-plug-dummy-option": "value"}}
	}
	errText := "could not open network device"
	for _, c := range []struct {
		what     string
		change   func(*vswitch.Interface)
		modified bool
	}{
		{"mtu_request", func(i *vswitch.Interface) { i.MTURequest = &mtu }, true},
		{"options", func(i *vswitch.Interface) { i.Options = map[string]string{} }, true},
		{"ovn-plugged", func(i *vswitch.Interface) { i.ExternalIDs[plan.ExtOvnPlugged] = "other" }, true},
		{"error", func(i *vswitch.Interface) { i.Error = &errText }, false},
		{"ovn-installed", func(i *vswitch.Interface) { i.ExternalIDs["ovn-installed"] = "true" }, false},
	} {
		x := newOVSIndex()
		x.t.applyIface("u1", base())
		n := base()
		c.change(n)
		ch := x.t.applyIface("u1", n)
		if got := len(ch.modified) == 1; got != c.modified {
			t.Errorf("%s: listed as modified %v, want %v", c.what, got, c.modified)
		}
	}
	x := newOVSIndex()
	x.t.applyIface("u1", base())
	if ch := x.t.applyIface("u1", nil); len(ch.deleted) != 1 {
		t.Errorf("a deleted plugged interface is not listed: %+v", ch)
	}
	unplugged := base()
	delete(unplugged.ExternalIDs, plan.ExtOvnPlugged)
	x.t.applyIface("u1", unplugged)
	if ch := x.t.applyIface("u1", nil); len(ch.deleted) != 0 {
		t.Errorf("an interface nobody plugged is listed as deleted: %+v", ch)
	}
}
