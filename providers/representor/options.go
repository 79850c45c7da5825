package representor

import (
	"fmt"
	"strconv"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

// Port_Binding option keys, as Neutron and ovn-vif spell them.
const (
	// OptPFMAC is the host PF's MAC as the host sees it. Required.
	OptPFMAC = "vif-plug:representor:pf-mac"
	// OptVFNum is the VF index on that PF; with it the VF representor is
	// plugged, without it (and without OptSFNum) the host PF's own.
	OptVFNum = "vif-plug:representor:vf-num"
	// OptSFNum is the SF number on that PF; it selects an SF representor.
	OptSFNum = "vif-plug:representor:sf-num"
	// OptController is the devlink controller number of the host on a
	// multi-host card; without it the controller is inferred (see
	// hwdb.DB.LookupPF).
	OptController = "vif-plug:representor:controller"
	// OptVUID identifies the host PF by its VUID (the VU keyword of its
	// PCI VPD) instead of its MAC, as BlueField-3/4 multi-host setups do.
	// doca_caps resolves it to the ECPF, controller and PF number.
	OptVUID = "vif-plug:representor:vuid"
)

// maxVUIDLen bounds a VUID; real ones are 42 characters.
const maxVUIDLen = 128

// Kind is what a request asks for.
type Kind uint8

const (
	KindPF Kind = iota // the host PF representor
	KindVF             // a VF representor
	KindSF             // an SF representor
)

func (k Kind) String() string {
	switch k {
	case KindVF:
		return "VF"
	case KindSF:
		return "SF"
	}
	return "PF"
}

// Request is a parsed set of representor options. The host PF is named
// by PFMAC or, when VUID is set, by VUID.
type Request struct {
	PFMAC      hwdb.MAC
	VUID       string
	Kind       Kind
	Num        uint32 // the VF or SF number; 0 for KindPF
	Controller hwdb.Ctrl
}

func (r Request) String() string {
	s := "pf-mac " + r.PFMAC.String()
	if r.VUID != "" {
		s = "vuid " + r.VUID
	}
	switch r.Kind {
	case KindVF:
		s += fmt.Sprintf(" vf %d", r.Num)
	case KindSF:
		s += fmt.Sprintf(" sf %d", r.Num)
	}
	if r.Controller.Set {
		s += fmt.Sprintf(" controller %d", r.Controller.Num)
	}
	return s
}

// ParseOptions reads the representor keys from Port_Binding options.
// Every refusal is a *providers.InvalidError naming the key and the
// reason: the request itself is wrong, and waiting will not fix it.
//
// Numbers are unsigned decimal ("3", also "03"); signs, spaces and hex
// are refused. Ranges follow devlink's attribute widths: vf-num 0..65535,
// sf-num and controller 0..4294967295. vf-num and sf-num together are
// refused, since a port is one or the other.
func ParseOptions(opts map[string]string) (Request, error) {
	var r Request
	macStr, hasMAC := opts[OptPFMAC]
	vuid, hasVUID := opts[OptVUID]
	switch {
	case hasMAC && hasVUID:
		return Request{}, providers.Invalid("%s and %s are both set; name the host PF by one of them", OptPFMAC, OptVUID)
	case hasVUID:
		if err := checkVUID(vuid); err != nil {
			return Request{}, err
		}
		if _, ok := opts[OptController]; ok {
			return Request{}, providers.Invalid("%s is set with %s, which already names the controller", OptController, OptVUID)
		}
		r.VUID = vuid
	case !hasMAC:
		return Request{}, providers.Invalid("%s is required (or %s)", OptPFMAC, OptVUID)
	default:
		mac, err := hwdb.ParseMAC(macStr)
		if err != nil {
			return Request{}, providers.Invalid("%s=%q is not a MAC address", OptPFMAC, macStr)
		}
		if mac.IsZero() {
			return Request{}, providers.Invalid("%s=%q is the zero MAC", OptPFMAC, macStr)
		}
		if mac[0]&1 != 0 {
			return Request{}, providers.Invalid("%s=%q is a multicast MAC; a PF MAC is unicast", OptPFMAC, macStr)
		}
		r.PFMAC = mac
	}

	vf, hasVF := opts[OptVFNum]
	sf, hasSF := opts[OptSFNum]
	switch {
	case hasVF && hasSF:
		return Request{}, providers.Invalid("%s and %s are both set; a port is a VF or an SF, not both", OptVFNum, OptSFNum)
	case hasVF:
		n, err := parseNum(OptVFNum, vf, 16)
		if err != nil {
			return Request{}, err
		}
		r.Kind, r.Num = KindVF, uint32(n)
	case hasSF:
		n, err := parseNum(OptSFNum, sf, 32)
		if err != nil {
			return Request{}, err
		}
		r.Kind, r.Num = KindSF, uint32(n)
	}
	if c, ok := opts[OptController]; ok {
		n, err := parseNum(OptController, c, 32)
		if err != nil {
			return Request{}, err
		}
		r.Controller = hwdb.CtrlNum(uint32(n))
	}
	return r, nil
}

func parseNum(key, s string, bits int) (uint64, error) {
	switch {
	case s == "":
		return 0, providers.Invalid("%s is empty", key)
	case s[0] == '-' && digits(s[1:]):
		return 0, providers.Invalid("%s=%q is negative", key, s)
	case !digits(s):
		return 0, providers.Invalid("%s=%q is not a decimal number", key, s)
	}
	n, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, providers.Invalid("%s=%q is out of range (0..%d)", key, s, uint64(1)<<bits-1)
	}
	return n, nil
}

func digits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// checkVUID accepts letters and digits only: a VUID is passed to an
// external tool and echoed in reasons.
func checkVUID(v string) error {
	if v == "" {
		return providers.Invalid("%s is empty", OptVUID)
	}
	if len(v) > maxVUIDLen {
		return providers.Invalid("%s is %d characters; at most %d", OptVUID, len(v), maxVUIDLen)
	}
	for _, c := range []byte(v) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return providers.Invalid("%s=%q has a character other than a letter or digit", OptVUID, v)
		}
	}
	return nil
}
