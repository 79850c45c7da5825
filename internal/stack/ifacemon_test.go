package stack

import "testing"

func TestIsFence(t *testing.T) {
	ids := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		what string
		ev   IfaceEvent
		want string
		ok   bool
	}{
		{"first fence", IfaceEvent{Action: "modify", Name: "br-int", OldExternalIDs: ids(), ExternalIDs: ids(fenceKey, "1")}, "1", true},
		{"next fence", IfaceEvent{Action: "modify", Name: "br-int", OldExternalIDs: ids(fenceKey, "1", "a", "b"), ExternalIDs: ids(fenceKey, "2", "a", "b")}, "2", true},
		{"fence and another change", IfaceEvent{Action: "modify", Name: "br-int", OldExternalIDs: ids(fenceKey, "1"), ExternalIDs: ids(fenceKey, "2", "a", "b")}, "", false},
		{"a key removed with it", IfaceEvent{Action: "modify", Name: "br-int", OldExternalIDs: ids("a", "b"), ExternalIDs: ids(fenceKey, "1")}, "", false},
		{"other change of br-int", IfaceEvent{Action: "modify", Name: "br-int", OldExternalIDs: ids(fenceKey, "1"), ExternalIDs: ids(fenceKey, "1", "a", "b")}, "", false},
		{"another interface", IfaceEvent{Action: "modify", Name: "lsp1", OldExternalIDs: ids(), ExternalIDs: ids(fenceKey, "1")}, "", false},
		{"initial", IfaceEvent{Action: "initial", Name: "br-int", ExternalIDs: ids(fenceKey, "1")}, "", false},
	} {
		got, ok := isFence(c.ev)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: isFence = %q, %v; want %q, %v", c.what, got, ok, c.want, c.ok)
		}
	}
}
