package representor_test

import (
	"strconv"
	"testing"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/representor"
)

// FuzzParseOptions: ParseOptions never panics, every refusal is an
// InvalidError, and every accepted request is consistent with the
// options it came from.
func FuzzParseOptions(f *testing.F) {
	f.Add(macA, "3", "", "", true, false, false, true)
	f.Add(macA, "", "", "", false, false, false, true)
	f.Add(macA, "", "2", "1", false, true, true, true)
	f.Add("0c-42-a1-c6-cf-7c", "65535", "", "", true, false, false, true)
	f.Add("zz", "-1", "x", "", true, true, true, true)
	f.Add(macA, "65536", "", "4294967296", true, false, true, true)
	f.Add("", "", "", "", false, false, false, false)
	f.Fuzz(func(t *testing.T, mac, vf, sf, ctrl string, hasVF, hasSF, hasCtrl, hasMAC bool) {
		o := map[string]string{}
		if hasMAC {
			o[representor.OptPFMAC] = mac
		}
		if hasVF {
			o[representor.OptVFNum] = vf
		}
		if hasSF {
			o[representor.OptSFNum] = sf
		}
		if hasCtrl {
			o[representor.OptController] = ctrl
		}
		r, err := representor.ParseOptions(o)
		if err != nil {
			if !providers.IsInvalid(err) {
				t.Fatalf("%v: error %v is not an InvalidError", o, err)
			}
			if r != (representor.Request{}) {
				t.Fatalf("%v: refused but returned %+v", o, r)
			}
			return
		}
		want, perr := hwdb.ParseMAC(mac)
		if !hasMAC || perr != nil || r.PFMAC != want || r.PFMAC.IsZero() || r.PFMAC[0]&1 != 0 {
			t.Fatalf("%v: accepted with PF MAC %v", o, r.PFMAC)
		}
		if hasVF && hasSF {
			t.Fatalf("%v: accepted both vf-num and sf-num", o)
		}
		check := func(kind representor.Kind, s string, bits int) {
			n, err := strconv.ParseUint(s, 10, bits)
			if r.Kind != kind || err != nil || uint64(r.Num) != n {
				t.Fatalf("%v: parsed as %+v", o, r)
			}
		}
		switch {
		case hasVF:
			check(representor.KindVF, vf, 16)
		case hasSF:
			check(representor.KindSF, sf, 32)
		default:
			if r.Kind != representor.KindPF || r.Num != 0 {
				t.Fatalf("%v: parsed as %+v", o, r)
			}
		}
		if r.Controller.Set != hasCtrl {
			t.Fatalf("%v: controller %+v", o, r.Controller)
		}
		if hasCtrl {
			n, err := strconv.ParseUint(ctrl, 10, 32)
			if err != nil || uint64(r.Controller.Num) != n {
				t.Fatalf("%v: controller %+v", o, r.Controller)
			}
		}
		// Parsing is deterministic and insensitive to unrelated keys.
		o["vif-plug-mtu-request"] = "1500"
		o["vif-plug:dummy:x"] = "y"
		if again, err := representor.ParseOptions(o); err != nil || again != r {
			t.Fatalf("%v: reparse gave %+v, %v; first %+v", o, again, err, r)
		}
	})
}
