// Package hwdbtest builds simulated DPU sysfs trees, laid out the way the
// kernel lays out /sys, for unit tests, e2e tests and the sandbox:
//
//	class/net/<dev>        -> ../../devices/pci0000:00/0000:00:02.0/<pci>/net/<dev>
//	                          (or ../../devices/virtual/net/<dev>)
//	bus/pci/devices/<pci>  -> ../../../devices/pci0000:00/0000:00:02.0/<pci>
//	devices/.../<pci>/net/<dev>/{ifindex,phys_switch_id,phys_port_name,
//	                             name_assign_type,device}
//	devices/.../<pci>/net/<uplink>/smart_nic/pf/config
//
// All links are relative and resolve inside the tree. Nothing here ever
// deletes the tree root; removal is per netdev.
//
// It does not import hwdb, so hwdb's own tests can use it.
package hwdbtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Netdev is one netdev in a simulated tree.
type Netdev struct {
	// Name is the netdev name (class/net/<Name>).
	Name string
	// PhysPortName is written to phys_port_name ("p0", "pf0", "c1pf0vf3");
	// empty writes no file.
	PhysPortName string
	// SwitchID is written to phys_switch_id; empty writes no file, which
	// makes the netdev an ordinary (non-switchdev) one.
	SwitchID string
	// Ifindex is written to ifindex. In the sandbox it must be the real
	// ifindex of the veth with this name.
	Ifindex int
	// PCI is the PCI function the netdev hangs off ("0000:03:00.0");
	// empty puts it under devices/virtual/net.
	PCI string
	// NameAssignType, when non-zero, is written to name_assign_type
	// (1 = kernel-enumerated "eth5", 3 = user, 4 = renamed). Zero writes
	// no file, and hwdb then judges the name by its eth<N> form.
	NameAssignType int
}

// Spec is a whole tree.
type Spec struct {
	Netdevs []Netdev
	// UplinkPFMACs maps an uplink netdev name ("p0") to the host PF MAC
	// written to its smart_nic/pf/config.
	UplinkPFMACs map[string]string
}

// BuildTree writes spec under dir, creating dir if needed. Existing
// entries of the same names are replaced; nothing else is removed.
func BuildTree(dir string, spec Spec) error {
	for _, nd := range spec.Netdevs {
		if err := AddNetdev(dir, nd); err != nil {
			return err
		}
	}
	for uplink, mac := range spec.UplinkPFMACs {
		if err := SetUplinkPFMAC(dir, uplink, mac); err != nil {
			return err
		}
	}
	return nil
}

var pciRe = regexp.MustCompile(`^([0-9a-f]{4}):[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$`)

func checkName(name string) error {
	if name == "" || len(name) > 15 || name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n") {
		return fmt.Errorf("hwdbtest: bad netdev name %q", name)
	}
	return nil
}

// devicePath is the device directory of a PCI function, relative to the
// root.
func devicePath(pci string) (string, error) {
	m := pciRe.FindStringSubmatch(pci)
	if m == nil {
		return "", fmt.Errorf("hwdbtest: bad PCI address %q (want 0000:03:00.0)", pci)
	}
	return filepath.Join("devices", "pci"+m[1]+":00", m[1]+":00:02.0", pci), nil
}

// netdevPath is the real directory of a netdev, relative to the root.
func netdevPath(nd Netdev) (string, error) {
	if nd.PCI == "" {
		return filepath.Join("devices", "virtual", "net", nd.Name), nil
	}
	dev, err := devicePath(nd.PCI)
	if err != nil {
		return "", err
	}
	return filepath.Join(dev, "net", nd.Name), nil
}

// AddNetdev adds (or replaces) one netdev.
func AddNetdev(dir string, nd Netdev) error {
	if err := checkName(nd.Name); err != nil {
		return err
	}
	if nd.Ifindex <= 0 {
		return fmt.Errorf("hwdbtest: netdev %s: ifindex %d must be > 0", nd.Name, nd.Ifindex)
	}
	rel, err := netdevPath(nd)
	if err != nil {
		return err
	}
	if err := removeNetdev(dir, nd.Name); err != nil {
		return err
	}
	real := filepath.Join(dir, rel)
	if err := os.MkdirAll(real, 0o755); err != nil {
		return err
	}
	files := map[string]string{"ifindex": strconv.Itoa(nd.Ifindex)}
	if nd.PhysPortName != "" {
		files["phys_port_name"] = nd.PhysPortName
	}
	if nd.SwitchID != "" {
		files["phys_switch_id"] = nd.SwitchID
	}
	if nd.NameAssignType != 0 {
		files["name_assign_type"] = strconv.Itoa(nd.NameAssignType)
	}
	for name, val := range files {
		if err := os.WriteFile(filepath.Join(real, name), []byte(val+"\n"), 0o644); err != nil {
			return err
		}
	}
	if nd.PCI != "" {
		dev, _ := devicePath(nd.PCI)
		// <dev>/net/<name>/device -> ../../../<pci>, as in the kernel.
		if err := os.Remove(filepath.Join(real, "device")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.Symlink(filepath.Join("..", "..", "..", nd.PCI), filepath.Join(real, "device")); err != nil {
			return err
		}
		if err := symlink(dir, filepath.Join("bus", "pci", "devices", nd.PCI), dev); err != nil {
			return err
		}
	}
	return symlink(dir, filepath.Join("class", "net", nd.Name), rel)
}

// symlink makes dir/link point at dir/target with a relative link,
// replacing any existing link.
func symlink(dir, link, target string) error {
	abs := filepath.Join(dir, link)
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(link), target)
	if err != nil {
		return err
	}
	if err := os.Remove(abs); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.Symlink(rel, abs)
}

// RemoveNetdev removes a netdev: its class/net link and its directory.
// Removing a missing netdev is not an error.
func RemoveNetdev(dir, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return removeNetdev(dir, name)
}

func removeNetdev(dir, name string) error {
	link := filepath.Join(dir, "class", "net", name)
	target, err := os.Readlink(link)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	real := filepath.Join(filepath.Dir(link), target)
	if !within(dir, real) {
		return fmt.Errorf("hwdbtest: %s points outside the tree (%s)", link, target)
	}
	if err := os.RemoveAll(real); err != nil {
		return err
	}
	return os.Remove(link)
}

func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// RenameNetdev renames a netdev, keeping its attributes, as udev does.
func RenameNetdev(dir, from, to string) error {
	if err := checkName(from); err != nil {
		return err
	}
	if err := checkName(to); err != nil {
		return err
	}
	link := filepath.Join(dir, "class", "net", from)
	target, err := os.Readlink(link)
	if err != nil {
		return err
	}
	oldReal := filepath.Join(filepath.Dir(link), target)
	if !within(dir, oldReal) {
		return fmt.Errorf("hwdbtest: %s points outside the tree (%s)", link, target)
	}
	if err := removeNetdev(dir, to); err != nil {
		return err
	}
	newReal := filepath.Join(filepath.Dir(oldReal), to)
	if err := os.Rename(oldReal, newReal); err != nil {
		return err
	}
	if err := os.Remove(link); err != nil {
		return err
	}
	rel, err := filepath.Rel(dir, newReal)
	if err != nil {
		return err
	}
	return symlink(dir, filepath.Join("class", "net", to), rel)
}

// SetAttr writes one attribute file of a netdev (name_assign_type,
// ifindex, phys_port_name, ...).
func SetAttr(dir, name, attr, value string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if attr == "" || strings.ContainsAny(attr, "/") || attr == "." || attr == ".." {
		return fmt.Errorf("hwdbtest: bad attribute %q", attr)
	}
	return os.WriteFile(filepath.Join(dir, "class", "net", name, attr), []byte(value+"\n"), 0o644)
}

// SetUplinkPFMAC writes the host PF MAC into an uplink's
// smart_nic/pf/config, in the BlueField format.
func SetUplinkPFMAC(dir, uplink, mac string) error {
	if err := checkName(uplink); err != nil {
		return err
	}
	// Refuse a missing uplink rather than let MkdirAll turn its class/net
	// entry into a plain directory.
	if _, err := os.Lstat(filepath.Join(dir, "class", "net", uplink)); err != nil {
		return fmt.Errorf("hwdbtest: uplink %s: %w", uplink, err)
	}
	cfg := filepath.Join(dir, "class", "net", uplink, "smart_nic", "pf")
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		return err
	}
	text := fmt.Sprintf("MAC        : %s\nMaxTxRate  : 0\nState      : Follow\n", mac)
	return os.WriteFile(filepath.Join(cfg, "config"), []byte(text), 0o644)
}
