package hwdb

import (
	"errors"

	"github.com/vishvananda/netlink"
)

// DevlinkPortsFunc lists all devlink ports, like
// netlink.DevLinkGetAllPortList.
type DevlinkPortsFunc func() ([]*netlink.DevlinkPort, error)

// DefaultDevlinkPorts dumps devlink ports over netlink, retrying a dump
// that the kernel reports as interrupted (the port list changed under
// it). On kernels without devlink it fails with "no such file or
// directory", and hwdb falls back to sysfs.
func DefaultDevlinkPorts() ([]*netlink.DevlinkPort, error) {
	var err error
	for range 3 {
		var ports []*netlink.DevlinkPort
		ports, err = netlink.DevLinkGetAllPortList()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return ports, err
		}
	}
	return nil, err
}

// devlinkInfo is what a devlink port says about its netdev.
type devlinkInfo struct {
	flavour    Flavour
	controller uint32
	external   bool
	pf         uint16
	vf         uint16
	sf         uint32
	fnMAC      MAC
	device     string // bus/device, e.g. "pci/0000:03:00.0"
}

// devlinkIndex maps netdev ifindex to the devlink port of that netdev.
type devlinkIndex map[int]devlinkInfo

// indexDevlink keeps the ports that have a netdev and the numbers their
// flavour needs; the rest fall back to phys_port_name.
func indexDevlink(ports []*netlink.DevlinkPort) devlinkIndex {
	idx := make(devlinkIndex, len(ports))
	for _, p := range ports {
		if p == nil || p.NetdevIfIndex == 0 {
			continue
		}
		d := devlinkInfo{
			flavour: flavourFromDevlink(p.PortFlavour),
			device:  p.BusName + "/" + p.DeviceName,
		}
		if p.ControllerNumber != nil {
			d.controller = *p.ControllerNumber
		}
		if p.External != nil {
			d.external = *p.External
		}
		if p.Fn != nil && len(p.Fn.HwAddr) == len(MAC{}) {
			d.fnMAC = MAC(p.Fn.HwAddr)
		}
		complete := true
		switch d.flavour {
		case FlavourPhysical:
			complete = p.PortNumber != nil && *p.PortNumber <= 0xffff
			if complete {
				d.pf = uint16(*p.PortNumber)
			}
		case FlavourPCIPF:
			complete = p.PfNumber != nil
		case FlavourPCIVF:
			complete = p.PfNumber != nil && p.VfNumber != nil
			if complete {
				d.vf = *p.VfNumber
			}
		case FlavourPCISF:
			complete = p.PfNumber != nil && p.SfNumber != nil
			if complete {
				d.sf = *p.SfNumber
			}
		}
		if p.PfNumber != nil && d.flavour != FlavourPhysical {
			d.pf = *p.PfNumber
		}
		if complete {
			idx[int(p.NetdevIfIndex)] = d
		}
	}
	return idx
}
