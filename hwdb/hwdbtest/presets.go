package hwdbtest

import (
	"fmt"
	"strconv"
	"strings"
)

// DPU describes the switchdev ports of a simulated BlueField, named the
// way BlueField's udev rules name them: uplink p<n>, host PF
// representor pf<n>hpf, VF representors pf<n>vf<i>, SF representors
// en<bus>f<n>pf<n>sf<s>.
type DPU struct {
	// SwitchID is the phys_switch_id of every port; default
	// "0c42a1030065c6cf" (one eswitch ID for both ports, as mlx5 reports
	// the system image GUID).
	SwitchID string
	// PCIBus is the NIC's domain and bus; PF n is <PCIBus>:00.<n>.
	// Default "0000:03".
	PCIBus string
	// Controller 0 gives BlueField-2 style phys_port_names for host ports
	// (pf0, pf0vf3, pf0sf2); N >= 1 gives the external-controller form
	// newer kernels print on BlueField-3 (c1pf0, c1pf0vf3, c1pf0sf2).
	Controller uint32
	// PFs are the host PFs; PF n uplinks through p<n>.
	PFs []DPUPF
	// FirstIfindex numbers the netdevs in order from here; default 100.
	FirstIfindex int
}

// DPUPF is one host PF of a DPU.
type DPUPF struct {
	// HostMAC is the host PF MAC written to p<n>/smart_nic/pf/config; ""
	// writes no config.
	HostMAC string
	// VFs is the number of VF representors, pf<n>vf0 .. pf<n>vf<VFs-1>.
	VFs int
	// SFs are the SF numbers that have representors.
	SFs []uint32
}

// Spec lays the DPU out as a Spec.
func (d DPU) Spec() Spec {
	if d.SwitchID == "" {
		d.SwitchID = "0c42a1030065c6cf"
	}
	if d.PCIBus == "" {
		d.PCIBus = "0000:03"
	}
	if d.FirstIfindex <= 0 {
		d.FirstIfindex = 100
	}
	bus := 0
	if i := strings.LastIndexByte(d.PCIBus, ':'); i >= 0 {
		if n, err := strconv.ParseUint(d.PCIBus[i+1:], 16, 8); err == nil {
			bus = int(n)
		}
	}
	prefix := ""
	if d.Controller > 0 {
		prefix = fmt.Sprintf("c%d", d.Controller)
	}
	spec := Spec{UplinkPFMACs: map[string]string{}}
	idx := d.FirstIfindex
	add := func(name, ppn, pci string) {
		spec.Netdevs = append(spec.Netdevs, Netdev{Name: name, PhysPortName: ppn, SwitchID: d.SwitchID, Ifindex: idx, PCI: pci, NameAssignType: 4})
		idx++
	}
	for n, pf := range d.PFs {
		pci := fmt.Sprintf("%s:00.%d", d.PCIBus, n)
		add(fmt.Sprintf("p%d", n), fmt.Sprintf("p%d", n), pci)
		if pf.HostMAC != "" {
			spec.UplinkPFMACs[fmt.Sprintf("p%d", n)] = pf.HostMAC
		}
		add(fmt.Sprintf("pf%dhpf", n), fmt.Sprintf("%spf%d", prefix, n), pci)
		for vf := range pf.VFs {
			add(fmt.Sprintf("pf%dvf%d", n, vf), fmt.Sprintf("%spf%dvf%d", prefix, n, vf), pci)
		}
		for _, sf := range pf.SFs {
			add(fmt.Sprintf("en%df%dpf%dsf%d", bus, n, n, sf), fmt.Sprintf("%spf%dsf%d", prefix, n, sf), pci)
		}
	}
	return spec
}

// Netdev returns a pointer to the named netdev of the spec, or nil; use
// it to adjust one entry (its Ifindex, say) before BuildTree.
func (s *Spec) Netdev(name string) *Netdev {
	for i := range s.Netdevs {
		if s.Netdevs[i].Name == name {
			return &s.Netdevs[i]
		}
	}
	return nil
}
