package representor_test

import (
	"testing"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb/hwdbtest"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/providertest"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/representor"
)

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	if err := hwdbtest.BuildTree(dir, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 2, SFs: []uint32{3}}}}.Spec()); err != nil {
		t.Fatal(err)
	}
	providertest.TestProvider(t, representor.Factory,
		// Without the netlink watcher: the tree is not the kernel's.
		providertest.Config(map[string]string{"watch": "false", "devlink": "false"}),
		providertest.SysfsRoot(dir),
		providertest.Ports(
			providertest.Port{Name: "host-pf", Options: opts(kMAC, macA)},
			providertest.Port{Name: "vm1", Options: opts(kMAC, macA, kVF, "1")},
			providertest.Port{Name: "sf", Options: opts(kMAC, macA, kSF, "3")},
			providertest.Port{Name: "vf7", Options: opts(kMAC, macA, kVF, "7"), Want: providertest.NotReady},
			providertest.Port{Name: "other-nic", Options: opts(kMAC, macB, kVF, "0"), Want: providertest.NotReady},
			providertest.Port{Name: "bad-mac", Options: opts(kMAC, "0c:42:a1"), Want: providertest.Invalid},
			providertest.Port{Name: "vf-and-sf", Options: opts(kMAC, macA, kVF, "1", kSF, "3"), Want: providertest.Invalid},
		),
		// VF 7's representor appears.
		providertest.ChangeView(func() error {
			return hwdbtest.AddNetdev(dir, hwdbtest.Netdev{Name: "pf0vf7", PhysPortName: "pf0vf7", SwitchID: sw, Ifindex: 307, PCI: pci0})
		}),
	)
}
