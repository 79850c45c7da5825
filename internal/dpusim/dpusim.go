// Package dpusim simulates a SmartNIC DPU (NVIDIA BlueField) for the
// representor provider, with real links and real traffic:
//
//   - every host function (the host PF, each VF, each SF) is a veth pair.
//     Its "representor" end, named as BlueField's udev rules name it
//     (pf0hpf, pf0vf3, en3f0pf0sf2), sits in the stack's namespace, where
//     ovs-vswitchd and the sidecar run, so OVS can open it as a system
//     interface and the sidecar's netlink watcher sees it come and go.
//     Its other end is eth0 of a "VM": a namespace of its own with a MAC
//     and an IPv4 address, from which to ping;
//   - each uplink p<n> is a real veth too (its peer, p<n>wire, stays in
//     the stack's namespace unconfigured), so that its ifindex is taken and
//     no other link's events can be mistaken for it;
//   - a kernel-layout sysfs tree (hwdbtest) under Dir describes them all:
//     ifindex (the real link's), phys_switch_id, phys_port_name (pf0vf3,
//     or c1pf0vf3 with a controller) and the host PF MAC in the uplink's
//     smart_nic/pf/config. Pass Dir to the sidecar as --sysfs-root.
//
// Tree entries are written before their link exists: each link is created
// with an explicit ifindex, chosen first and written into the tree, so
// the RTM_NEWLINK that announces a late VF already finds its attributes,
// as on real hardware. Renames change the tree first, then the link;
// removals delete the link, then its tree entry (see docs/representor.md).
//
// Each VM's addresses are fixed by its function (Plan), so a CMS can be
// told about a port before its hardware exists. Ping pings from a VM's
// namespace without iputils.
//
// Everything is removed at the TB's cleanup; the namespaces of a killed
// owner are swept by the next New. Methods without the Err suffix fail
// the TB on errors; programs that must survive a bad request (the
// sandbox's API) use the ...Err ones.
package dpusim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb/hwdbtest"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// Defaults for Options and hwdbtest.DPU fields left empty.
const (
	DefaultSwitchID = "0c42a1030065c6cf"
	DefaultPCIBus   = "0000:03"
	// DefaultHostPFMAC is the host MAC of PF 0 when the DPU lists no PFs.
	DefaultHostPFMAC = "0c:42:a1:c6:cf:7c"
	// VMDev is the VM end's name inside each VM namespace.
	VMDev = "eth0"
	// firstIfindex is where explicit ifindexes start in the stack's
	// namespace, well above what the kernel hands out there.
	firstIfindex = 1000
	// NameAssignRenamed is the name_assign_type written for every netdev
	// but a kernel-named one (NET_NAME_RENAMED: udev has named it).
	NameAssignRenamed = 4
)

// DefaultSubnet is where VM addresses come from by default.
var DefaultSubnet = netip.MustParsePrefix("10.77.0.0/16")

// Kind is the kind of host function behind a representor.
type Kind int

const (
	KindPF Kind = iota // the host PF (representor pf<n>hpf)
	KindVF             // a VF (representor pf<n>vf<i>)
	KindSF             // an SF (representor en<bus>f<n>pf<n>sf<s>)
)

func (k Kind) String() string {
	switch k {
	case KindVF:
		return "vf"
	case KindSF:
		return "sf"
	}
	return "pf"
}

// MarshalText makes a Kind print by name in JSON.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Options configure New.
type Options struct {
	// NetNS is the namespace the representors and uplinks go in: the
	// stack's (stack.Stack.NetNS). Required, and it must exist.
	NetNS string
	// Dir is the sysfs tree root (--sysfs-root). "" makes a temporary
	// directory that is removed at cleanup; a given Dir is left in place
	// (only the links and namespaces are removed).
	Dir string
	// DPU is the layout: host PFs with their host MAC, VF count and SF
	// numbers, the controller (0: BlueField-2 names pf0vf3; N: c<N>pf0vf3),
	// switch ID and PCI bus. Its FirstIfindex is ignored: ifindexes come
	// from the real links. No PFs means one PF with DefaultHostPFMAC and
	// no VFs.
	DPU hwdbtest.DPU
	// Subnet is where the VMs' addresses come from, fixed per function
	// (see New and Plan). Default DefaultSubnet, a /16: room for 16 PFs.
	Subnet netip.Prefix
	// VMNetNSPrefix prefixes the VM namespace names (prefix + VM name).
	// Default "ovnvifvm-<pid>-<n>-", which the next New sweeps once this
	// process is gone. A custom prefix is not swept.
	VMNetNSPrefix string
}

// VM is one host function: its representor in the stack's namespace and
// the VM end in its own namespace. It is a snapshot; ask the Sim again
// after a rename.
type VM struct {
	// Name is stable: BlueField's udev name for the function ("pf0vf1",
	// "pf0hpf"), also when the representor was created under a kernel
	// name or has been renamed since.
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	PF   int    `json:"pf"`
	// Num is the VF or SF number (0 for a PF).
	Num uint32 `json:"num"`
	// Representor is the representor netdev's current name in the stack's
	// namespace; the OVS interface the sidecar plugs has this name.
	Representor string `json:"representor"`
	// Ifindex is the representor's ifindex (also in the tree).
	Ifindex int `json:"ifindex"`
	// PhysPortName is the representor's phys_port_name ("c1pf0vf3").
	PhysPortName string `json:"phys_port_name"`
	// NetNS is the VM's namespace: `ip netns exec <NetNS> ...`.
	NetNS string `json:"netns"`
	// Dev is the VM end's name inside NetNS (VMDev).
	Dev string `json:"dev"`
	// MAC and IP are the VM end's addresses; Prefix is IP with the
	// subnet's length.
	MAC    string       `json:"mac"`
	IP     netip.Addr   `json:"ip"`
	Prefix netip.Prefix `json:"prefix"`
	// HostPFMAC is the MAC of the host PF this function belongs to: the
	// value for vif-plug:representor:pf-mac.
	HostPFMAC string `json:"host_pf_mac"`
	// Created is when the representor link was created: taken just
	// before the link was added, so latencies measured from it are upper
	// bounds.
	Created time.Time `json:"created"`
}

// Addresses is the Logical_Switch_Port addresses value: "MAC IP".
func (v VM) Addresses() string { return v.MAC + " " + v.IP.String() }

// PlugOptions are the Port_Binding options Neutron would set to plug this
// function on chassis: requested-chassis, vif-plug-type=representor,
// pf-mac and, for a VF or SF, vf-num or sf-num.
func (v VM) PlugOptions(chassis string) []string {
	opts := []string{"requested-chassis=" + chassis, "vif-plug-type=representor",
		"vif-plug:representor:pf-mac=" + v.HostPFMAC}
	switch v.Kind {
	case KindVF:
		opts = append(opts, fmt.Sprintf("vif-plug:representor:vf-num=%d", v.Num))
	case KindSF:
		opts = append(opts, fmt.Sprintf("vif-plug:representor:sf-num=%d", v.Num))
	}
	return opts
}

// Sim is a simulated DPU. Its methods are safe for concurrent use. Those
// without the Err suffix fail the TB on errors (a stack.Program exits);
// the ...Err ones return the error, for long-running programs.
type Sim struct {
	tb     stack.TB
	ns     string
	dir    string
	dpu    hwdbtest.DPU
	pfx    string // VM namespace prefix
	owned  bool   // dir is ours to remove
	subnet netip.Prefix

	mu      sync.Mutex
	vms     map[string]*VM // by stable name
	uplinks map[int]string // pf -> uplink netdev
	ifidx   map[int]bool   // explicit ifindexes handed out
	nextIdx int
	closed  bool
}

var simSeq atomic.Int64

// New builds the DPU: an uplink per PF, then the host PF, VF and SF
// representors of the layout, each with its VM, and the tree under Dir.
// It registers the teardown with tb.Cleanup. Create it before starting
// the sidecar with --sysfs-root=Dir (the sidecar reads the tree at start;
// later changes reach it by link events).
//
// Addresses are fixed per function, so they are known before a function
// exists (Plan): in the subnet, PF n's block starts at host n*4096; its
// host PF is +1, VF v is +2+v (v < 2046), SF s is +2048+s (s < 2047).
// The MAC is 0a:44:50 followed by the same host number.
func New(tb stack.TB, o Options) *Sim {
	tb.Helper()
	if o.NetNS == "" {
		tb.Fatalf("dpusim: Options.NetNS is required")
	}
	if !netnsExists(o.NetNS) {
		tb.Fatalf("dpusim: namespace %s does not exist", o.NetNS)
	}
	sweepStale()
	seq := simSeq.Add(1)
	s := &Sim{tb: tb, ns: o.NetNS, dpu: o.DPU, pfx: o.VMNetNSPrefix,
		vms: map[string]*VM{}, uplinks: map[int]string{}, ifidx: map[int]bool{}, nextIdx: firstIfindex}
	if s.dpu.SwitchID == "" {
		s.dpu.SwitchID = DefaultSwitchID
	}
	if s.dpu.PCIBus == "" {
		s.dpu.PCIBus = DefaultPCIBus
	}
	s.dpu.PFs = slices.Clone(s.dpu.PFs) // SetHostPFMAC writes to it
	if len(s.dpu.PFs) == 0 {
		s.dpu.PFs = []hwdbtest.DPUPF{{HostMAC: DefaultHostPFMAC}}
	}
	if s.pfx == "" {
		s.pfx = fmt.Sprintf("%s%d-%d-", vmNetNSPrefix, os.Getpid(), seq)
	}
	s.subnet = o.Subnet
	if !s.subnet.IsValid() {
		s.subnet = DefaultSubnet
	}
	s.subnet = s.subnet.Masked()
	if !s.subnet.Addr().Is4() || s.subnet.Bits() < 8 || s.subnet.Bits() > 30 {
		tb.Fatalf("dpusim: subnet %s: want an IPv4 prefix from /8 to /30", s.subnet)
	}

	s.dir = o.Dir
	if s.dir == "" {
		d, err := os.MkdirTemp("", tempPrefix)
		if err != nil {
			tb.Fatalf("dpusim: %v", err)
		}
		if err := os.WriteFile(filepath.Join(d, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			tb.Fatalf("dpusim: %v", err)
		}
		s.dir, s.owned = d, true
	} else if err := os.MkdirAll(s.dir, 0o755); err != nil {
		tb.Fatalf("dpusim: %v", err)
	}
	tb.Cleanup(s.close)

	start := time.Now()
	for n, pf := range s.dpu.PFs {
		if err := s.addUplink(n, pf.HostMAC); err != nil {
			tb.Fatalf("dpusim: %v", err)
		}
	}
	for n, pf := range s.dpu.PFs {
		if _, err := s.add(KindPF, n, 0, ""); err != nil {
			tb.Fatalf("dpusim: %v", err)
		}
		for vf := range pf.VFs {
			if _, err := s.add(KindVF, n, uint32(vf), ""); err != nil {
				tb.Fatalf("dpusim: %v", err)
			}
		}
		for _, sf := range pf.SFs {
			if _, err := s.add(KindSF, n, sf, ""); err != nil {
				tb.Fatalf("dpusim: %v", err)
			}
		}
	}
	tb.Logf("dpusim: DPU with %d PF(s) and %d VM(s) in netns %s, tree %s, in %v",
		len(s.dpu.PFs), len(s.vms), s.ns, s.dir, time.Since(start).Round(time.Millisecond))
	return s
}

// Dir is the sysfs tree root, for --sysfs-root.
func (s *Sim) Dir() string { return s.dir }

// NetNS is the namespace the representors are in.
func (s *Sim) NetNS() string { return s.ns }

// SysfsRootFlag is "--sysfs-root=<Dir>".
func (s *Sim) SysfsRootFlag() string { return "--sysfs-root=" + s.dir }

// SwitchID is the phys_switch_id of every port.
func (s *Sim) SwitchID() string { return s.dpu.SwitchID }

// Subnet is the VMs' subnet.
func (s *Sim) Subnet() netip.Prefix { return s.subnet }

// PFs is the number of host PFs.
func (s *Sim) PFs() int { return len(s.dpu.PFs) }

// HostPFMAC is the host MAC of PF pf (the pf-mac option value).
func (s *Sim) HostPFMAC(pf int) string {
	s.tb.Helper()
	if pf < 0 || pf >= len(s.dpu.PFs) {
		s.tb.Fatalf("dpusim: no PF %d", pf)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dpu.PFs[pf].HostMAC
}

// Ifindex is the ifindex of a link in the stack's namespace (a
// representor or an uplink). It fails the TB if there is no such link.
func (s *Sim) Ifindex(name string) int {
	s.tb.Helper()
	idx, err := linkIfindex(s.ns, name)
	if err != nil {
		s.tb.Fatalf("dpusim: %v", err)
	}
	return idx
}

// Uplink is the uplink netdev of PF pf ("p0").
func (s *Sim) Uplink(pf int) string { return fmt.Sprintf("p%d", pf) }

// VM returns a VM by its stable name ("pf0vf1") or by its representor's
// current name. It fails the TB if there is none.
func (s *Sim) VM(name string) VM {
	s.tb.Helper()
	v, ok := s.LookupVM(name)
	if !ok {
		s.tb.Fatalf("dpusim: no VM or representor %q (have %s)", name, strings.Join(s.names(), ", "))
	}
	return v
}

// LookupVM is VM without failing.
func (s *Sim) LookupVM(name string) (VM, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.vms[name]; ok {
		return *v, true
	}
	for _, v := range s.vms {
		if v.Representor == name {
			return *v, true
		}
	}
	return VM{}, false
}

// HostPF returns the VM behind PF pf's host PF representor.
func (s *Sim) HostPF(pf int) VM { s.tb.Helper(); return s.VM(repName(KindPF, pf, 0, 0)) }

// VF returns the VM behind VF vf of PF pf.
func (s *Sim) VF(pf, vf int) VM { s.tb.Helper(); return s.VM(repName(KindVF, pf, uint32(vf), 0)) }

// SF returns the VM behind SF sf of PF pf.
func (s *Sim) SF(pf int, sf uint32) VM {
	s.tb.Helper()
	return s.VM(repName(KindSF, pf, sf, s.bus()))
}

// VMs lists every VM, by PF, kind and number.
func (s *Sim) VMs() []VM {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]VM, 0, len(s.vms))
	for _, v := range s.vms {
		out = append(out, *v)
	}
	slices.SortFunc(out, func(a, b VM) int {
		if a.PF != b.PF {
			return a.PF - b.PF
		}
		if a.Kind != b.Kind {
			return int(a.Kind) - int(b.Kind)
		}
		return int(a.Num) - int(b.Num)
	})
	return out
}

func (s *Sim) names() []string {
	var n []string
	for _, v := range s.VMs() {
		n = append(n, v.Name)
	}
	return n
}

// Plan describes the function (kind, pf, num) as it will be once added:
// its name, namespace, MAC, address and host PF MAC; Representor,
// Ifindex and Created stay empty. A CMS can be told about a port before
// its hardware exists.
func (s *Sim) Plan(k Kind, pf int, num uint32) (VM, error) {
	if pf < 0 || pf >= len(s.dpu.PFs) {
		return VM{}, fmt.Errorf("no PF %d (the DPU has %d)", pf, len(s.dpu.PFs))
	}
	var off uint32
	switch k {
	case KindPF:
		if num != 0 {
			return VM{}, fmt.Errorf("a host PF has no number (got %d)", num)
		}
		off = 1
	case KindVF:
		if num > 2045 {
			return VM{}, fmt.Errorf("VF %d: dpusim addresses VFs 0..2045 only", num)
		}
		off = 2 + num
	case KindSF:
		if num > 2046 {
			return VM{}, fmt.Errorf("SF %d: dpusim addresses SFs 0..2046 only", num)
		}
		off = 2048 + num
	default:
		return VM{}, fmt.Errorf("bad kind %d", k)
	}
	host := uint32(pf)*4096 + off
	size := uint64(1) << (32 - s.subnet.Bits())
	if uint64(host) >= size-1 {
		return VM{}, fmt.Errorf("%s %d of PF %d does not fit subnet %s", k, num, pf, s.subnet)
	}
	a := s.subnet.Addr().As4()
	base := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v := base + host
	addr := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	name := repName(k, pf, num, s.bus())
	s.mu.Lock()
	hostMAC := s.dpu.PFs[pf].HostMAC
	s.mu.Unlock()
	return VM{
		Name:         name,
		Kind:         k,
		PF:           pf,
		Num:          num,
		PhysPortName: s.physPortName(k, pf, num),
		NetNS:        s.pfx + name,
		Dev:          VMDev,
		MAC:          fmt.Sprintf("0a:44:50:%02x:%02x:%02x", byte(host>>16), byte(host>>8), byte(host)),
		IP:           addr,
		Prefix:       netip.PrefixFrom(addr, s.subnet.Bits()),
		HostPFMAC:    hostMAC,
	}, nil
}

// PlanVF is Plan for VF vf of PF pf; it fails the TB on error.
func (s *Sim) PlanVF(pf, vf int) VM {
	s.tb.Helper()
	v, err := s.Plan(KindVF, pf, uint32(vf))
	if err != nil {
		s.tb.Fatalf("dpusim: %v", err)
	}
	return v
}

// AddVF adds VF vf of PF pf at run time, as hardware that appears late:
// its tree entry first, then the veth (one RTM_NEWLINK) and the VM.
// VM.Created is when the link was created.
func (s *Sim) AddVF(pf, vf int) VM {
	s.tb.Helper()
	v, err := s.AddVFErr(pf, vf, "")
	if err != nil {
		s.tb.Fatalf("dpusim: %v", err)
	}
	return v
}

// AddVFErr is AddVF returning the error. A non-empty netdev names the
// representor instead of pf<n>vf<i>; a kernel-style name (eth5) gets
// name_assign_type 1 (NET_NAME_ENUM), as before udev renames it, which
// RenameRepresentor then does.
func (s *Sim) AddVFErr(pf, vf int, netdev string) (VM, error) {
	if vf < 0 || vf > 0xffff {
		return VM{}, fmt.Errorf("VF number %d out of range", vf)
	}
	return s.add(KindVF, pf, uint32(vf), netdev)
}

// AddSF adds SF sf of PF pf at run time, like AddVF.
func (s *Sim) AddSF(pf int, sf uint32) VM {
	s.tb.Helper()
	v, err := s.add(KindSF, pf, sf, "")
	if err != nil {
		s.tb.Fatalf("dpusim: %v", err)
	}
	return v
}

// RemoveVF removes VF vf of PF pf: the link (RTM_DELLINK), its tree
// entry and its VM.
func (s *Sim) RemoveVF(pf, vf int) {
	s.tb.Helper()
	s.Remove(repName(KindVF, pf, uint32(vf), 0))
}

// Remove removes a function by VM or current representor name, like
// RemoveVF.
func (s *Sim) Remove(name string) {
	s.tb.Helper()
	if err := s.RemoveErr(name); err != nil {
		s.tb.Fatalf("dpusim: %v", err)
	}
}

// RenameRepresentor renames a representor netdev the way udev would: the
// link goes down, the tree entry is renamed (name_assign_type becomes 4,
// NET_NAME_RENAMED, as the kernel sets it), then the link (RTM_NEWLINK
// with the new name), and the link comes up again.
func (s *Sim) RenameRepresentor(from, to string) {
	s.tb.Helper()
	if err := s.RenameRepresentorErr(from, to); err != nil {
		s.tb.Fatalf("dpusim: %v", err)
	}
}

// SetLinkUp sets a representor's link up or down (a carrier change: an
// RTM_NEWLINK that changes nothing in the tree).
func (s *Sim) SetLinkUp(rep string, up bool) {
	s.tb.Helper()
	state := "down"
	if up {
		state = "up"
	}
	if _, err := ip(s.ns, "link", "set", "dev", rep, state); err != nil {
		s.tb.Fatalf("dpusim: %v", err)
	}
}

// SetHostPFMAC changes PF pf's host MAC in its uplink's
// smart_nic/pf/config. Nothing announces this to a running sidecar but
// its periodic rescan, or a link event on the host PF representor (see
// docs/representor.md); SetLinkUp(HostPF(pf).Representor, true) makes one.
func (s *Sim) SetHostPFMAC(pf int, mac string) {
	s.tb.Helper()
	if pf < 0 || pf >= len(s.dpu.PFs) {
		s.tb.Fatalf("dpusim: no PF %d", pf)
	}
	if err := hwdbtest.SetUplinkPFMAC(s.dir, s.Uplink(pf), mac); err != nil {
		s.tb.Fatalf("dpusim: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dpu.PFs[pf].HostMAC = mac
	for _, v := range s.vms {
		if v.PF == pf {
			v.HostPFMAC = mac
		}
	}
}

// Ping pings dst from the VM called from (a VM or representor name).
func (s *Sim) Ping(from string, dst netip.Addr, o PingOptions) PingResult {
	s.tb.Helper()
	v := s.VM(from)
	r, err := Ping(v.NetNS, dst, o)
	if err != nil {
		s.tb.Fatalf("dpusim: %v", err)
	}
	return r
}

// String describes the VMs as JSON, for logs.
func (s *Sim) String() string {
	b, _ := json.MarshalIndent(s.VMs(), "", "  ")
	return string(b)
}

// repName is BlueField's udev name for a representor.
func repName(k Kind, pf int, num uint32, bus int) string {
	switch k {
	case KindVF:
		return fmt.Sprintf("pf%dvf%d", pf, num)
	case KindSF:
		return fmt.Sprintf("en%df%dpf%dsf%d", bus, pf, pf, num)
	}
	return fmt.Sprintf("pf%dhpf", pf)
}

// physPortName is what the kernel prints for the function.
func (s *Sim) physPortName(k Kind, pf int, num uint32) string {
	prefix := ""
	if s.dpu.Controller > 0 {
		prefix = fmt.Sprintf("c%d", s.dpu.Controller)
	}
	switch k {
	case KindVF:
		return fmt.Sprintf("%spf%dvf%d", prefix, pf, num)
	case KindSF:
		return fmt.Sprintf("%spf%dsf%d", prefix, pf, num)
	}
	return fmt.Sprintf("%spf%d", prefix, pf)
}

func (s *Sim) bus() int {
	if i := strings.LastIndexByte(s.dpu.PCIBus, ':'); i >= 0 {
		if n, err := strconv.ParseUint(s.dpu.PCIBus[i+1:], 16, 8); err == nil {
			return int(n)
		}
	}
	return 0
}

func (s *Sim) pci(pf int) string { return fmt.Sprintf("%s:00.%d", s.dpu.PCIBus, pf) }

// netdev is the tree entry of a function's representor.
func (s *Sim) netdev(name string, k Kind, pf int, num uint32, ifindex int) hwdbtest.Netdev {
	return hwdbtest.Netdev{Name: name, PhysPortName: s.physPortName(k, pf, num), SwitchID: s.dpu.SwitchID,
		Ifindex: ifindex, PCI: s.pci(pf), NameAssignType: NameAssignRenamed}
}

// linkIfindex reads a link's ifindex in ns.
func linkIfindex(ns, name string) (int, error) {
	out, err := ip(ns, "-j", "link", "show", "dev", name)
	if err != nil {
		return 0, err
	}
	var links []struct {
		Ifindex int `json:"ifindex"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		return 0, fmt.Errorf("ip link show %s: bad answer %q", name, out)
	}
	return links[0].Ifindex, nil
}

func linkExists(ns, name string) bool {
	_, err := ip(ns, "link", "show", "dev", name)
	return err == nil
}

// createWithIndex writes the tree entry (via write, given the ifindex),
// then creates the link with that ifindex via create. An ifindex someone
// else took meanwhile is skipped. It returns the ifindex and when the link
// was created.
func (s *Sim) createWithIndex(name string, write func(ifindex int) error, create func(ifindex int) error) (int, time.Time, error) {
	if linkExists(s.ns, name) {
		return 0, time.Time{}, fmt.Errorf("a link called %s already exists in %s", name, s.ns)
	}
	var lastErr error
	for range 20 {
		s.mu.Lock()
		idx := s.nextIdx
		for s.ifidx[idx] {
			idx++
		}
		s.nextIdx = idx + 1
		s.ifidx[idx] = true
		s.mu.Unlock()
		if err := write(idx); err != nil {
			return 0, time.Time{}, err
		}
		created := time.Now()
		err := create(idx)
		if err == nil {
			real, err := linkIfindex(s.ns, name)
			if err != nil {
				return 0, time.Time{}, err
			}
			if real != idx {
				// Cannot happen with a kernel that honours IFLA index;
				// keep the tree true to the link anyway.
				if err := hwdbtest.SetAttr(s.dir, name, "ifindex", strconv.Itoa(real)); err != nil {
					return 0, time.Time{}, err
				}
				idx = real
			}
			return idx, created, nil
		}
		lastErr = err
		// "File exists": the ifindex is taken (the name was free above).
		if !strings.Contains(err.Error(), "exists") || linkExists(s.ns, name) {
			_ = hwdbtest.RemoveNetdev(s.dir, name)
			return 0, time.Time{}, err
		}
	}
	_ = hwdbtest.RemoveNetdev(s.dir, name)
	return 0, time.Time{}, fmt.Errorf("creating %s: no free ifindex: %v", name, lastErr)
}

func (s *Sim) addUplink(pf int, hostMAC string) error {
	name := s.Uplink(pf)
	peer := name + "wire"
	_, _, err := s.createWithIndex(name, func(idx int) error {
		nd := hwdbtest.Netdev{Name: name, PhysPortName: fmt.Sprintf("p%d", pf), SwitchID: s.dpu.SwitchID,
			Ifindex: idx, PCI: s.pci(pf), NameAssignType: NameAssignRenamed}
		if err := hwdbtest.AddNetdev(s.dir, nd); err != nil {
			return err
		}
		if hostMAC == "" {
			return nil
		}
		return hwdbtest.SetUplinkPFMAC(s.dir, name, hostMAC)
	}, func(idx int) error {
		_, err := ip(s.ns, "link", "add", "name", name, "index", strconv.Itoa(idx), "type", "veth", "peer", "name", peer)
		return err
	})
	if err != nil {
		return fmt.Errorf("uplink %s: %w", name, err)
	}
	if _, err := ip(s.ns, "link", "set", "dev", name, "up"); err != nil {
		return err
	}
	s.mu.Lock()
	s.uplinks[pf] = name
	s.mu.Unlock()
	return nil
}

// add creates one function: VM namespace, tree entry, veth, addresses.
func (s *Sim) add(k Kind, pf int, num uint32, netdev string) (VM, error) {
	plan, err := s.Plan(k, pf, num)
	if err != nil {
		return VM{}, err
	}
	nat := NameAssignRenamed
	if netdev == "" {
		netdev = plan.Name
	} else if kernelName(netdev) {
		nat = nameAssignEnum
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return VM{}, errors.New("simulator is closed")
	}
	if _, dup := s.vms[plan.Name]; dup {
		s.mu.Unlock()
		return VM{}, fmt.Errorf("%s already exists", plan.Name)
	}
	v := &plan
	v.Representor = netdev
	// Reserve the name so that a concurrent add of the same function fails.
	s.vms[v.Name] = v
	s.mu.Unlock()

	vm, err := s.create(v, nat)
	if err != nil {
		s.mu.Lock()
		delete(s.vms, v.Name)
		s.mu.Unlock()
		if linkExists(s.ns, netdev) {
			_, _ = ip(s.ns, "link", "del", "dev", netdev)
		}
		_ = hwdbtest.RemoveNetdev(s.dir, netdev)
		_, _ = ip("", "netns", "delete", v.NetNS)
		return VM{}, fmt.Errorf("%s: %w", v.Name, err)
	}
	return vm, nil
}

// kernelName reports whether a name has the kernel's eth<N> form.
func kernelName(name string) bool {
	n, ok := strings.CutPrefix(name, "eth")
	if !ok || n == "" {
		return false
	}
	_, err := strconv.ParseUint(n, 10, 32)
	return err == nil
}

// nameAssignEnum is NET_NAME_ENUM: the kernel enumerated the name.
const nameAssignEnum = 1

func (s *Sim) create(v *VM, nameAssign int) (VM, error) {
	if netnsExists(v.NetNS) {
		return VM{}, fmt.Errorf("namespace %s already exists", v.NetNS)
	}
	if _, err := ip("", "netns", "add", v.NetNS); err != nil {
		return VM{}, err
	}
	if _, err := ip(v.NetNS, "link", "set", "dev", "lo", "up"); err != nil {
		return VM{}, err
	}
	rep := v.Representor
	idx, created, err := s.createWithIndex(rep, func(idx int) error {
		nd := s.netdev(rep, v.Kind, v.PF, v.Num, idx)
		nd.NameAssignType = nameAssign
		return hwdbtest.AddNetdev(s.dir, nd)
	}, func(idx int) error {
		_, err := ip(s.ns, "link", "add", "name", rep, "index", strconv.Itoa(idx), "type", "veth",
			"peer", "name", v.Dev, "address", v.MAC, "netns", v.NetNS)
		return err
	})
	if err != nil {
		return VM{}, err
	}
	s.mu.Lock()
	v.Ifindex, v.Created = idx, created
	s.mu.Unlock()
	for _, args := range [][]string{
		{v.NetNS, "addr", "add", v.Prefix.String(), "dev", v.Dev},
		{v.NetNS, "link", "set", "dev", v.Dev, "up"},
	} {
		if _, err := ip(args[0], args[1:]...); err != nil {
			return VM{}, err
		}
	}
	// A representor with a kernel name stays down, as udev renames it
	// before anyone brings it up (a link must be down to be renamed).
	if nameAssign != nameAssignEnum {
		if _, err := ip(s.ns, "link", "set", "dev", rep, "up"); err != nil {
			return VM{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return *v, nil
}

// RemoveErr is Remove returning the error.
func (s *Sim) RemoveErr(name string) error {
	s.mu.Lock()
	var v *VM
	for _, c := range s.vms {
		if c.Name == name || c.Representor == name {
			v = c
		}
	}
	if v == nil {
		s.mu.Unlock()
		return fmt.Errorf("remove %s: no such VM or representor", name)
	}
	delete(s.vms, v.Name)
	rep, vmns := v.Representor, v.NetNS
	s.mu.Unlock()
	// The link first (RTM_DELLINK), then its tree entry, so that no rescan
	// brings it back; then the VM.
	if _, err := ip(s.ns, "link", "del", "dev", rep); err != nil {
		return err
	}
	if err := hwdbtest.RemoveNetdev(s.dir, rep); err != nil {
		return err
	}
	_, err := ip("", "netns", "delete", vmns)
	return err
}

// RenameRepresentorErr is RenameRepresentor returning the error.
func (s *Sim) RenameRepresentorErr(from, to string) error {
	s.mu.Lock()
	var v *VM
	for _, c := range s.vms {
		if c.Representor == from {
			v = c
		}
	}
	s.mu.Unlock()
	if v == nil {
		return fmt.Errorf("rename %s: no such representor", from)
	}
	if linkExists(s.ns, to) {
		return fmt.Errorf("rename %s to %s: a link called %s exists", from, to, to)
	}
	// A link must be down to be renamed. The down event finds the tree
	// unchanged; the rename's RTM_NEWLINK finds the entry under its new
	// name.
	if _, err := ip(s.ns, "link", "set", "dev", from, "down"); err != nil {
		return err
	}
	if err := hwdbtest.RenameNetdev(s.dir, from, to); err != nil {
		return err
	}
	if err := hwdbtest.SetAttr(s.dir, to, "name_assign_type", strconv.Itoa(NameAssignRenamed)); err != nil {
		return err
	}
	if _, err := ip(s.ns, "link", "set", "dev", from, "name", to); err != nil {
		_ = hwdbtest.RenameNetdev(s.dir, to, from)
		return err
	}
	s.mu.Lock()
	v.Representor = to
	s.mu.Unlock()
	_, err := ip(s.ns, "link", "set", "dev", to, "up")
	return err
}

// close deletes the representors, the VM namespaces and the uplinks, and
// the tree if New made it.
func (s *Sim) close() {
	s.mu.Lock()
	s.closed = true
	vms := make([]*VM, 0, len(s.vms))
	for _, v := range s.vms {
		vms = append(vms, v)
	}
	uplinks := make([]string, 0, len(s.uplinks))
	for _, u := range s.uplinks {
		uplinks = append(uplinks, u)
	}
	s.mu.Unlock()
	// Delete the links explicitly: a deleted namespace is torn down
	// asynchronously, and its veth peers can linger for a while.
	stackNS := netnsExists(s.ns)
	for _, v := range vms {
		if stackNS {
			_, _ = ip(s.ns, "link", "del", "dev", v.Representor)
		}
		if netnsExists(v.NetNS) {
			if _, err := ip("", "netns", "delete", v.NetNS); err != nil {
				s.tb.Logf("dpusim: %v", err)
			}
		}
	}
	if stackNS {
		for _, u := range uplinks {
			_, _ = ip(s.ns, "link", "del", "dev", u)
		}
	}
	if s.owned {
		if err := os.RemoveAll(s.dir); err != nil {
			s.tb.Logf("dpusim: %v", err)
		}
	}
}
