package hwdb_test

import (
	"strings"
	"testing"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb"
)

func TestParsePhysPortName(t *testing.T) {
	tests := []struct {
		in   string
		want hwdb.PhysPortName
		ok   bool
	}{
		{"p0", hwdb.PhysPortName{Flavour: hwdb.FlavourPhysical, PF: 0}, true},
		{"p1", hwdb.PhysPortName{Flavour: hwdb.FlavourPhysical, PF: 1}, true},
		{"pf0", hwdb.PhysPortName{Flavour: hwdb.FlavourPCIPF}, true},
		{"pf1", hwdb.PhysPortName{Flavour: hwdb.FlavourPCIPF, PF: 1}, true},
		{"c1pf0", hwdb.PhysPortName{Flavour: hwdb.FlavourPCIPF, Controller: 1, External: true}, true},
		{"c0pf0", hwdb.PhysPortName{Flavour: hwdb.FlavourPCIPF, Controller: 0, External: true}, true},
		{"pf0vf3", hwdb.PhysPortName{Flavour: hwdb.FlavourPCIVF, VF: 3}, true},
		{"c1pf0vf3", hwdb.PhysPortName{Flavour: hwdb.FlavourPCIVF, Controller: 1, External: true, VF: 3}, true},
		{"c2pf1vf127", hwdb.PhysPortName{Flavour: hwdb.FlavourPCIVF, Controller: 2, External: true, PF: 1, VF: 127}, true},
		{"pf0sf2", hwdb.PhysPortName{Flavour: hwdb.FlavourPCISF, SF: 2}, true},
		{"c1pf0sf2", hwdb.PhysPortName{Flavour: hwdb.FlavourPCISF, Controller: 1, External: true, SF: 2}, true},
		{"pf0vf65535", hwdb.PhysPortName{Flavour: hwdb.FlavourPCIVF, VF: 65535}, true},
		{"pf0sf4294967295", hwdb.PhysPortName{Flavour: hwdb.FlavourPCISF, SF: 4294967295}, true},
		{"pf0vf65536", hwdb.PhysPortName{}, false},
		{"p0s1", hwdb.PhysPortName{}, false},
		{"", hwdb.PhysPortName{}, false},
		{"p", hwdb.PhysPortName{}, false},
		{"pf", hwdb.PhysPortName{}, false},
		{"pfvf1", hwdb.PhysPortName{}, false},
		{"pf0vf", hwdb.PhysPortName{}, false},
		{"pf00", hwdb.PhysPortName{}, false},
		{"pf0vf03", hwdb.PhysPortName{}, false},
		{"c1p0", hwdb.PhysPortName{}, false},
		{"cpf0", hwdb.PhysPortName{}, false},
		{"pf-1", hwdb.PhysPortName{}, false},
		{"pf0vf3 ", hwdb.PhysPortName{}, false},
		{"pf0hpf", hwdb.PhysPortName{}, false},
		{"eth0", hwdb.PhysPortName{}, false},
	}
	for _, tt := range tests {
		got, ok := hwdb.ParsePhysPortName(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParsePhysPortName(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		if ok && got.String() != tt.in {
			t.Errorf("ParsePhysPortName(%q).String() = %q", tt.in, got.String())
		}
	}
}

// FuzzParsePhysPortName: never panics, and whatever parses prints back
// to exactly the input (the kernel's canonical form).
func FuzzParsePhysPortName(f *testing.F) {
	for _, s := range []string{"p0", "pf0", "c1pf0", "pf0vf3", "c1pf0vf3", "pf0sf2", "c1pf0sf2", "p0s1", "pf00", "c99999999999pf0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := hwdb.ParsePhysPortName(s)
		if !ok {
			if p != (hwdb.PhysPortName{}) {
				t.Fatalf("refused %q but returned %+v", s, p)
			}
			return
		}
		if p.Flavour == hwdb.FlavourUnknown {
			t.Fatalf("%q parsed with unknown flavour", s)
		}
		if got := p.String(); got != s {
			t.Fatalf("%q parsed to %+v which prints as %q", s, p, got)
		}
		if p.External != strings.HasPrefix(s, "c") {
			t.Fatalf("%q: External=%v", s, p.External)
		}
	})
}

func TestParseSmartNICConfig(t *testing.T) {
	mac, err := hwdb.ParseSmartNICConfig("MAC        : 0c:42:a1:c6:cf:7c\nMaxTxRate  : 0\nState      : Follow\n")
	if err != nil || mac.String() != "0c:42:a1:c6:cf:7c" {
		t.Fatalf("got %v, %v", mac, err)
	}
	for _, bad := range []string{"", "State : Follow\n", "MAC : zz:42:a1:c6:cf:7c\n", "MAC : 00:11:22:33:44:55:66:77\n"} {
		if _, err := hwdb.ParseSmartNICConfig(bad); err == nil {
			t.Errorf("ParseSmartNICConfig(%q) succeeded", bad)
		}
	}
}

// FuzzParseSmartNICConfig: never panics; a MAC it returns survives a
// round trip through the file format.
func FuzzParseSmartNICConfig(f *testing.F) {
	f.Add("MAC        : 0c:42:a1:c6:cf:7c\nMaxTxRate  : 0\n")
	f.Add("MAC:\n")
	f.Add(":::\nMAC : 0C-42-A1-C6-CF-7C")
	f.Fuzz(func(t *testing.T, s string) {
		mac, err := hwdb.ParseSmartNICConfig(s)
		if err != nil {
			return
		}
		if mac.IsZero() {
			return // prints as "", by design
		}
		again, err := hwdb.ParseSmartNICConfig("MAC        : " + mac.String() + "\n")
		if err != nil || again != mac {
			t.Fatalf("%q gave %v which reparses as %v, %v", s, mac, again, err)
		}
	})
}

func TestParseMAC(t *testing.T) {
	for _, ok := range []string{"0c:42:a1:c6:cf:7c", "0C-42-A1-C6-CF-7C", "0c42.a1c6.cf7c"} {
		m, err := hwdb.ParseMAC(ok)
		if err != nil || m.String() != "0c:42:a1:c6:cf:7c" {
			t.Errorf("ParseMAC(%q) = %v, %v", ok, m, err)
		}
	}
	for _, bad := range []string{"", "0c:42:a1:c6:cf", "0c:42:a1:c6:cf:7c:00:01", "xx:42:a1:c6:cf:7c"} {
		if _, err := hwdb.ParseMAC(bad); err == nil {
			t.Errorf("ParseMAC(%q) succeeded", bad)
		}
	}
}
