package dummy_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/dummy"
)

// TestDummyLikeOVN covers what OVN's test-vif-plug.c checks, in order.
func TestDummyLikeOVN(t *testing.T) {
	reg := providers.NewRegistry(nil)
	if err := reg.Unregister(dummy.Type); !errors.Is(err, providers.ErrUnknown) {
		t.Fatalf("unregister before register: %v", err)
	}
	f, ok := providers.CompiledFactory(dummy.Type)
	if !ok {
		t.Fatal("dummy did not register itself in init()")
	}
	p, err := f.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(p); err != nil {
		t.Fatal(err)
	}
	got, err := reg.Get(dummy.Type)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(p); !errors.Is(err, providers.ErrExists) {
		t.Fatalf("second register: %v", err)
	}
	if !slices.Contains(got.MaintainedIfaceOptions(), "vif-plug-dummy-option") {
		t.Fatalf("maintained options %v", got.MaintainedIfaceOptions())
	}
	in := &providers.PortCtxIn{Op: providers.OpCreate, LportName: "lsp1", LportOptions: map[string]string{}}
	out := &providers.PortCtxOut{}
	if err := got.Prepare(context.Background(), in, out); err != nil {
		t.Fatal(err)
	}
	if out.Name != "lsp1" || out.Type != "internal" || out.IfaceOptions["vif-plug-dummy-option"] != "value" || len(out.IfaceOptions) != 1 {
		t.Fatalf("prepare answer %+v", out)
	}
	got.Finish(in, out)
	got.CtxDestroy(in, out)
	if out.Name != "" || out.IfaceOptions != nil {
		t.Fatalf("ctx destroy left %+v", out)
	}
	if err := reg.DestroyAll(); err != nil {
		t.Fatal(err)
	}
}

func TestDummyRemoveAlwaysAllowed(t *testing.T) {
	p := dummy.New()
	in := &providers.PortCtxIn{Op: providers.OpRemove, LportName: "lsp1", IfaceName: "lsp1"}
	if err := p.Prepare(context.Background(), in, nil); err != nil {
		t.Fatalf("remove refused: %v", err)
	}
}

func TestDummyRefusesUnusableNames(t *testing.T) {
	for _, lport := range []string{"", "a/b"} {
		out := &providers.PortCtxOut{}
		err := dummy.New().Prepare(context.Background(), &providers.PortCtxIn{Op: providers.OpCreate, LportName: lport}, out)
		if !providers.IsInvalid(err) || out.Name != "" {
			t.Errorf("lport %q: %v %+v, want an invalid-request refusal and no answer", lport, err, out)
		}
	}
}

func TestDummyNameTruncation(t *testing.T) {
	for _, tc := range []struct{ lport, want string }{
		{"lsp1", "lsp1"},
		{"exactly15bytes_", "exactly15bytes_"},
		{"sixteen_bytes_xx", "sixteen_bytes_x"},
		{"a-very-long-logical-port-name-0123", "a-very-long-log"},
		// OVN copies bytes and may cut a character; this never does.
		{"ééééééééé", "ééééééé"},
	} {
		p := dummy.New()
		out := &providers.PortCtxOut{}
		if err := p.Prepare(context.Background(), &providers.PortCtxIn{Op: providers.OpCreate, LportName: tc.lport}, out); err != nil {
			t.Fatal(err)
		}
		if out.Name != tc.want || len(out.Name) > 15 {
			t.Errorf("name for %q = %q, want %q", tc.lport, out.Name, tc.want)
		}
	}
}

// TestIfaceNameCutsOnRuneBoundary: OVN cuts byte-wise, which can split a
// character; the answer must stay valid UTF-8 or it never matches what
// OVSDB stores.
func TestIfaceNameCutsOnRuneBoundary(t *testing.T) {
	cases := map[string]string{
		"lsp1":                "lsp1",
		"123456789012345":     "123456789012345",
		"1234567890123456789": "123456789012345",
		"x6abcdefghijkl😀":     "x6abcdefghijkl",
		"x6abcdefghijk😀":      "x6abcdefghijk",
		"x6abcdefghij😀z":      "x6abcdefghij",
		"ééééééééé":           "ééééééé",
	}
	for in, want := range cases {
		got := dummy.IfaceName(in)
		if got != want {
			t.Errorf("IfaceName(%q) = %q, want %q", in, got, want)
		}
		if err := providers.CheckAnswer(&providers.PortCtxOut{Name: got, Type: "internal"}); err != nil {
			t.Errorf("IfaceName(%q) = %q is not a usable name: %v", in, got, err)
		}
	}
}
