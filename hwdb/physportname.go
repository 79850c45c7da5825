package hwdb

import (
	"fmt"
	"strconv"
	"strings"
)

// PhysPortName is a parsed phys_port_name, as the kernel's devlink core
// prints it (__devlink_port_phys_port_name_get):
//
//	physical   p<port>
//	pcipf      [c<controller>]pf<pf>
//	pcivf      [c<controller>]pf<pf>vf<vf>
//	pcisf      [c<controller>]pf<pf>sf<sf>
//
// The c<controller> prefix is printed only for external controllers, so
// its presence is what sets External. BlueField-2 kernels without
// external-controller support print the bare forms for host ports.
type PhysPortName struct {
	Flavour    Flavour
	Controller uint32
	External   bool
	// PF is the pf number, or the port number of a physical port.
	PF uint16
	VF uint16
	SF uint32
}

// ParsePhysPortName parses s. It accepts only what the kernel prints:
// decimal numbers without sign or leading zeros, in range for devlink's
// attribute widths (controller and sf u32, pf and vf u16). Anything else,
// including split ports ("p0s1"), is refused.
func ParsePhysPortName(s string) (PhysPortName, bool) {
	var p PhysPortName
	rest := s
	if strings.HasPrefix(rest, "p") && !strings.HasPrefix(rest, "pf") {
		n, r, ok := number(rest[1:], 16)
		if !ok || r != "" {
			return PhysPortName{}, false
		}
		p.Flavour, p.PF = FlavourPhysical, uint16(n)
		return p, true
	}
	if strings.HasPrefix(rest, "c") {
		n, r, ok := number(rest[1:], 32)
		if !ok {
			return PhysPortName{}, false
		}
		p.Controller, p.External, rest = uint32(n), true, r
	}
	if !strings.HasPrefix(rest, "pf") {
		return PhysPortName{}, false
	}
	n, rest, ok := number(rest[2:], 16)
	if !ok {
		return PhysPortName{}, false
	}
	p.PF = uint16(n)
	switch {
	case rest == "":
		p.Flavour = FlavourPCIPF
	case strings.HasPrefix(rest, "vf"):
		n, r, ok := number(rest[2:], 16)
		if !ok || r != "" {
			return PhysPortName{}, false
		}
		p.Flavour, p.VF = FlavourPCIVF, uint16(n)
	case strings.HasPrefix(rest, "sf"):
		n, r, ok := number(rest[2:], 32)
		if !ok || r != "" {
			return PhysPortName{}, false
		}
		p.Flavour, p.SF = FlavourPCISF, uint32(n)
	default:
		return PhysPortName{}, false
	}
	return p, true
}

// String prints p the way the kernel would; for any p returned by
// ParsePhysPortName(s), p.String() == s.
func (p PhysPortName) String() string {
	var b strings.Builder
	if p.Flavour == FlavourPhysical {
		return fmt.Sprintf("p%d", p.PF)
	}
	if p.External {
		fmt.Fprintf(&b, "c%d", p.Controller)
	}
	fmt.Fprintf(&b, "pf%d", p.PF)
	switch p.Flavour {
	case FlavourPCIVF:
		fmt.Fprintf(&b, "vf%d", p.VF)
	case FlavourPCISF:
		fmt.Fprintf(&b, "sf%d", p.SF)
	case FlavourPCIPF:
	default:
		return ""
	}
	return b.String()
}

// number reads a canonical unsigned decimal (no sign, no leading zeros)
// from the front of s and returns it with the rest of s.
func number(s string, bits int) (uint64, string, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || (i > 1 && s[0] == '0') {
		return 0, "", false
	}
	n, err := strconv.ParseUint(s[:i], 10, bits)
	if err != nil {
		return 0, "", false
	}
	return n, s[i:], true
}
