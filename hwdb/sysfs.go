package hwdb

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// sysfs reads the few attributes hwdb needs, all under root. We do not go
// through sriovnet here: its readers use the process-global filesystem.Fs
// with hard-coded /sys paths, so a rooted tree (--sysfs-root) would mean
// swapping a global under everyone else's feet.
type sysfs struct{ root string }

// netdevInfo is what one netdev's sysfs directory says.
type netdevInfo struct {
	name           string
	ifindex        int
	switchID       string // "" when the netdev is not a switchdev port
	physPortName   string
	nameAssignType int // -1 when unknown
	pciAddr        string
}

var errNoNetdev = errors.New("no such netdev in sysfs")

func (s sysfs) classNet() string { return filepath.Join(s.root, "class", "net") }

// listNetdevs returns the names under class/net.
func (s sysfs) listNetdevs() ([]string, error) {
	ents, err := os.ReadDir(s.classNet())
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if validNetdevName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// validNetdevName refuses what the kernel would refuse (dev_valid_name),
// which also keeps a name from walking out of class/net.
func validNetdevName(name string) bool {
	if name == "" || len(name) > 15 || name == "." || name == ".." {
		return false
	}
	return !strings.ContainsAny(name, "/: \t\n\x00")
}

// readNetdev reads one netdev's attributes. It returns errNoNetdev when
// class/net/<name> does not exist. A netdev with no phys_switch_id that
// devlink does not list either (inDevlink) is no switchdev port: only its
// ifindex is read, which spares three reads per tap on a host with
// thousands of them.
func (s sysfs) readNetdev(name string, inDevlink func(ifindex int) bool) (netdevInfo, error) {
	if !validNetdevName(name) {
		return netdevInfo{}, fmt.Errorf("%q: %w", name, errNoNetdev)
	}
	dir := filepath.Join(s.classNet(), name)
	info := netdevInfo{name: name, nameAssignType: -1}
	idx, err := readAttr(dir, "ifindex")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
				return netdevInfo{}, fmt.Errorf("%s: %w", name, errNoNetdev)
			}
		}
		return netdevInfo{}, err
	}
	if info.ifindex, err = strconv.Atoi(idx); err != nil || info.ifindex <= 0 {
		return netdevInfo{}, fmt.Errorf("%s/ifindex: bad value %q", dir, idx)
	}
	// Non-switchdev netdevs fail this read with EOPNOTSUPP; that is not an
	// error for us, just "not a representor".
	info.switchID, _ = readAttr(dir, "phys_switch_id")
	if info.switchID == "" && !inDevlink(info.ifindex) {
		return info, nil
	}
	info.physPortName, _ = readAttr(dir, "phys_port_name")
	if v, err := readAttr(dir, "name_assign_type"); err == nil {
		if n, err := strconv.Atoi(v); err == nil {
			info.nameAssignType = n
		}
	}
	info.pciAddr = s.pciAddr(name)
	return info, nil
}

var pciAddrRe = regexp.MustCompile(`^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$`)

// pciAddr finds the PCI function a netdev hangs off from its class/net
// symlink (…/0000:03:00.0/net/pf0vf3). Only the link text is parsed, so
// nothing outside root is touched.
func (s sysfs) pciAddr(name string) string {
	target, err := os.Readlink(filepath.Join(s.classNet(), name))
	if err != nil {
		return ""
	}
	dir := path.Dir(filepath.ToSlash(target))
	if path.Base(dir) != "net" {
		return ""
	}
	if dev := path.Base(path.Dir(dir)); pciAddrRe.MatchString(dev) {
		return dev
	}
	return ""
}

// readUplinkMAC reads the host PF MAC that an uplink's
// smart_nic/pf/config carries (BlueField's interim interface for kernels
// whose devlink does not report it).
func (s sysfs) readUplinkMAC(uplink string) (MAC, error) {
	if !validNetdevName(uplink) {
		return MAC{}, fmt.Errorf("%q: %w", uplink, errNoNetdev)
	}
	b, err := os.ReadFile(filepath.Join(s.classNet(), uplink, "smart_nic", "pf", "config"))
	if err != nil {
		return MAC{}, err
	}
	return ParseSmartNICConfig(string(b))
}

// ParseSmartNICConfig extracts the MAC from the text of a BlueField
// smart_nic/pf/config file:
//
//	MAC        : 0c:42:a1:c6:cf:7c
//	MaxTxRate  : 0
//	State      : Follow
//
// Keys and values are split at the first colon and trimmed.
func ParseSmartNICConfig(text string) (MAC, error) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(key) != "MAC" {
			continue
		}
		return ParseMAC(strings.TrimSpace(val))
	}
	if err := sc.Err(); err != nil {
		return MAC{}, err
	}
	return MAC{}, errors.New("smart_nic config has no MAC line")
}

func readAttr(dir, attr string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, attr))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// NET_NAME_ENUM: the kernel enumerated the name (eth%d). Values from
// include/uapi/linux/netdevice.h.
const netNameEnum = 1

// kernelNameRe matches the names the kernel gives representors before
// udev renames them.
var kernelNameRe = regexp.MustCompile(`^eth[0-9]+$`)

// isKernelName says whether a netdev name is kernel-assigned. The
// kernel's own name_assign_type is authoritative when it is readable (a
// netdev deliberately renamed to "eth5" is NET_NAME_RENAMED); otherwise
// fall back to the eth<N> pattern.
func isKernelName(name string, nameAssignType int) bool {
	if nameAssignType >= 0 {
		return nameAssignType == netNameEnum
	}
	return kernelNameRe.MatchString(name)
}
