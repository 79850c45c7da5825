package hwdb

import (
	"errors"
	"fmt"
	"net"
)

// Flavour is the kind of switchdev port, as devlink names it.
type Flavour uint8

const (
	// FlavourUnknown is a switchdev port we cannot classify (for example a
	// split port, a devlink "virtual" port, or an unparsable phys_port_name).
	// Such ports are listed but never returned by lookups.
	FlavourUnknown Flavour = iota
	// FlavourPhysical is an uplink (phys_port_name "p0").
	FlavourPhysical
	// FlavourPCIPF is a PCI PF representor ("pf0", "c1pf0").
	FlavourPCIPF
	// FlavourPCIVF is a PCI VF representor ("pf0vf3", "c1pf0vf3").
	FlavourPCIVF
	// FlavourPCISF is a PCI SF representor ("pf0sf2", "c1pf0sf2").
	FlavourPCISF
)

// Flavours lists the known flavours in display order, for metrics that
// want a stable label set.
var Flavours = []Flavour{FlavourPhysical, FlavourPCIPF, FlavourPCIVF, FlavourPCISF, FlavourUnknown}

// String returns devlink's name for the flavour.
func (f Flavour) String() string {
	switch f {
	case FlavourPhysical:
		return "physical"
	case FlavourPCIPF:
		return "pcipf"
	case FlavourPCIVF:
		return "pcivf"
	case FlavourPCISF:
		return "pcisf"
	}
	return "unknown"
}

// MarshalText makes the flavour print by name in JSON.
func (f Flavour) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// Devlink port flavour numbers (include/uapi/linux/devlink.h).
const (
	devlinkFlavourPhysical = 0
	devlinkFlavourPCIPF    = 3
	devlinkFlavourPCIVF    = 4
	devlinkFlavourPCISF    = 7
)

func flavourFromDevlink(f uint16) Flavour {
	switch f {
	case devlinkFlavourPhysical:
		return FlavourPhysical
	case devlinkFlavourPCIPF:
		return FlavourPCIPF
	case devlinkFlavourPCIVF:
		return FlavourPCIVF
	case devlinkFlavourPCISF:
		return FlavourPCISF
	}
	return FlavourUnknown
}

// MAC is an EUI-48 address. It is an array, not a slice, so that Port is
// comparable and can be a map key.
type MAC [6]byte

// ParseMAC parses an EUI-48 address in any form net.ParseMAC accepts
// ("0c:42:a1:c6:cf:7c", "0C-42-A1-C6-CF-7C", "0c42.a1c6.cf7c"). Longer
// addresses (EUI-64, InfiniBand) are refused.
func ParseMAC(s string) (MAC, error) {
	hw, err := net.ParseMAC(s)
	if err != nil {
		return MAC{}, err
	}
	if len(hw) != len(MAC{}) {
		return MAC{}, fmt.Errorf("address %q is %d bytes long, not an EUI-48 MAC", s, len(hw))
	}
	return MAC(hw), nil
}

// IsZero reports whether m is 00:00:00:00:00:00, which the kernel uses
// for "no address".
func (m MAC) IsZero() bool { return m == MAC{} }

// String returns the lower-case colon form, or "" for the zero MAC.
func (m MAC) String() string {
	if m.IsZero() {
		return ""
	}
	return net.HardwareAddr(m[:]).String()
}

// MarshalText prints the MAC like String.
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// Source says where a port's flavour and numbers came from.
type Source uint8

const (
	// SourceSysfs means they were parsed from phys_port_name.
	SourceSysfs Source = iota
	// SourceDevlink means they came from a devlink port dump.
	SourceDevlink
)

func (s Source) String() string {
	if s == SourceDevlink {
		return "devlink"
	}
	return "sysfs"
}

// MarshalText makes the source print by name in JSON.
func (s Source) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Port is one switchdev port netdev. It is a plain value: lookups return
// copies.
type Port struct {
	// Name is the netdev's current name; it is what OVS needs.
	Name string `json:"name"`
	// Ifindex is the netdev's ifindex, the stable key: udev renames.
	Ifindex int `json:"ifindex"`
	// Flavour is the port kind.
	Flavour Flavour `json:"flavour"`
	// SwitchID is phys_switch_id: ports with the same one are on one
	// eswitch.
	SwitchID string `json:"switch_id"`
	// PhysPortName is the kernel's phys_port_name ("c1pf0vf3").
	PhysPortName string `json:"phys_port_name,omitempty"`
	// PCIAddr is the PCI function the netdev hangs off in the device tree,
	// or "" for a virtual device.
	PCIAddr string `json:"pci,omitempty"`
	// Controller is the devlink controller number: 0 is the DPU itself,
	// external hosts are 1 and up.
	Controller uint32 `json:"controller"`
	// External is set for ports of an external controller (the host). In
	// sysfs it is the "c<N>" prefix of phys_port_name.
	External bool `json:"external"`
	// PF is the PF number of a pcipf/pcivf/pcisf port, and the port number
	// of a physical port (uplink pN carries host PF N).
	PF uint16 `json:"pf"`
	// VF is the VF number of a pcivf port.
	VF uint16 `json:"vf"`
	// SF is the SF number of a pcisf port.
	SF uint32 `json:"sf"`
	// HostPFMAC is, for a pcipf port, the host PF's MAC as the host sees
	// it; for pcivf and pcisf ports the MAC of the host PF they belong to;
	// for a physical port the MAC in its smart_nic/pf/config. Zero when
	// unknown.
	HostPFMAC MAC `json:"host_pf_mac"`
	// KernelName is set when the name looks kernel-assigned (eth5): udev
	// has not renamed the netdev yet, so its name is about to change.
	KernelName bool `json:"kernel_name"`
	// Source says where Flavour and the numbers came from.
	Source Source `json:"source"`
}

// Ctrl selects a controller in lookups. The zero value, AnyCtrl, applies
// the default rule described at LookupPF.
type Ctrl struct {
	Num uint32
	Set bool
}

// AnyCtrl lets the lookup pick the controller.
var AnyCtrl = Ctrl{}

// CtrlNum selects controller n.
func CtrlNum(n uint32) Ctrl { return Ctrl{Num: n, Set: true} }

func (c Ctrl) String() string {
	if !c.Set {
		return "any"
	}
	return fmt.Sprint(c.Num)
}

// Lookup errors. Lookups wrap them with details, so test with errors.Is.
var (
	// ErrUnknownPF: no host PF has that MAC (on that controller). A host
	// PF is known only once its representor (pcipf port) exists and has a
	// MAC.
	ErrUnknownPF = errors.New("no host PF with that MAC")
	// ErrAmbiguousPF: several host PFs have that MAC and the default
	// rule cannot choose; the caller must name the controller.
	ErrAmbiguousPF = errors.New("several host PFs have that MAC")
	// ErrNoFunction: the host PF is known but has no representor for the
	// requested VF or SF.
	ErrNoFunction = errors.New("no such representor")
)
