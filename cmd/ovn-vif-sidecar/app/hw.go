package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vishvananda/netlink"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// hwRow is one line of `ovn-vif-sidecar hw`.
type hwRow struct {
	hwdb.Port
	LogicalPort string `json:"logical_port,omitempty"`
	PluggedBy   string `json:"ovn_plugged,omitempty"`
	Bridge      string `json:"bridge,omitempty"`
}

// runHW answers "what can I plug here?": every switchdev port the hardware
// database finds, from the same sources the daemon uses, and which logical
// port holds each in OVS.
func runHW(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ovn-vif-sidecar hw", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // --help prints to stdout below; errors get one line
	sysfsRoot := fs.String("sysfs-root", "/sys", "where sysfs is mounted")
	ovsDB := fs.String("ovs-db", "unix:/var/run/openvswitch/db.sock", "local OVS database, to show which logical port holds each representor; empty skips it")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintln(stdout, "Usage: ovn-vif-sidecar hw [flags]")
			fs.PrintDefaults()
			return exitOK
		}
		return usageError(stderr, "hw: %s", flagParseError(fs, err))
	}
	if fs.NArg() > 0 {
		return usageError(stderr, "hw: stray argument %q", fs.Arg(0))
	}
	db := hwdb.New(hwdb.Options{SysfsRoot: *sysfsRoot, ResyncInterval: -1})
	if err := db.Rescan(); err != nil {
		fmt.Fprintf(stderr, "ovn-vif-sidecar hw: reading switchdev ports under %s: %v\n", *sysfsRoot, err)
		return exitFail
	}
	holders, err := ovsHolders(*ovsDB)
	if err != nil {
		fmt.Fprintf(stderr, "warning: not showing logical ports: %v\n", err)
	}
	rows := []hwRow{}
	for _, p := range db.List() {
		r := hwRow{Port: p}
		if h, ok := holders[p.Name]; ok {
			r.LogicalPort, r.PluggedBy, r.Bridge = h.ExternalIDs[plan.ExtIfaceID], h.ExternalIDs[plan.ExtOvnPlugged], h.bridge
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		// On stderr, so that --json still prints only JSON. The host's
		// devlink says which devices to switch, unless sysfs is a copy.
		var devs []*netlink.DevlinkDevice
		if *sysfsRoot == "/sys" {
			devs, _ = listDevlinkDevices()
		}
		fmt.Fprint(stderr, emptyHWHint(*sysfsRoot, devs))
	}
	if *asJSON {
		printJSONTo(stdout, rows)
		return exitOK
	}
	tw := newTable(stdout)
	fmt.Fprintln(tw, "NETDEV\tIFINDEX\tFLAVOUR\tCTRL\tPF\tVF\tSF\tHOST PF MAC\tSWITCH ID\tLOGICAL PORT\tNOTE")
	for _, r := range rows {
		vf, sf := "-", "-"
		switch r.Flavour {
		case hwdb.FlavourPCIVF:
			vf = fmt.Sprint(r.VF)
		case hwdb.FlavourPCISF:
			sf = fmt.Sprint(r.SF)
		}
		note := ""
		if r.KernelName {
			note = "kernel-assigned name; waiting for udev"
		}
		if r.LogicalPort != "" && r.PluggedBy == "" {
			note = "iface-id set by someone else (not ovn-plugged)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Ifindex, r.Flavour, r.Controller, r.PF, vf, sf,
			dash(r.HostPFMAC.String()), dash(r.SwitchID), dash(r.LogicalPort), note)
	}
	_ = tw.Flush()
	return exitOK
}

// listDevlinkDevices is the host's devlink devices with their eswitch
// mode; a variable so that tests can stand in for hardware.
var listDevlinkDevices = netlink.DevLinkGetDeviceList

// emptyHWHint explains an empty table: representors exist only while a
// NIC's eswitch is in switchdev mode (most NICs boot in legacy mode).
// devs, when known, turn the advice into the exact commands.
func emptyHWHint(sysfsRoot string, devs []*netlink.DevlinkDevice) string {
	var b strings.Builder
	fmt.Fprintf(&b, "No switchdev ports found under %s: no NIC has its eswitch in switchdev mode, so there\n", sysfsRoot)
	b.WriteString("are no representors to plug.")
	var legacy []string
	for _, d := range devs {
		if d.Attrs.Eswitch.Mode == "legacy" {
			legacy = append(legacy, d.BusName+"/"+d.DeviceName)
		}
	}
	if len(legacy) == 0 {
		b.WriteString(" Check each PF's mode with\n  devlink dev eswitch show\n" +
			"and switch it (this recreates the PF's VFs and SFs) with\n  devlink dev eswitch set pci/<PCI address> mode switchdev\n")
		return b.String()
	}
	b.WriteString(" These eswitches are in legacy mode; switching one recreates its VFs and SFs:\n")
	for _, dev := range legacy {
		fmt.Fprintf(&b, "  devlink dev eswitch set %s mode switchdev\n", dev)
	}
	return b.String()
}

type holder struct {
	vswitch.Interface
	bridge string
}

// ovsHolders maps interface names to the interface rows in the local OVS
// database, with the bridge holding each.
func ovsHolders(remote string) (map[string]holder, error) {
	if remote == "" {
		return nil, nil
	}
	dbModel, err := model.NewClientDBModel("Open_vSwitch", map[string]model.Model{
		vswitch.BridgeTable: &vswitch.Bridge{}, vswitch.PortTable: &vswitch.Port{}, vswitch.InterfaceTable: &vswitch.Interface{},
	})
	if err != nil {
		return nil, err
	}
	cl, err := client.NewOVSDBClient(dbModel, client.WithEndpoint(remote))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.Connect(ctx); err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", remote, err)
	}
	defer cl.Close()
	br, port, iface := &vswitch.Bridge{}, &vswitch.Port{}, &vswitch.Interface{}
	if _, err := cl.Monitor(ctx, cl.NewMonitor(
		client.WithTable(br, &br.Name, &br.Ports),
		client.WithTable(port, &port.Interfaces),
		client.WithTable(iface, &iface.Name, &iface.ExternalIDs),
	)); err != nil {
		return nil, err
	}
	var bridges []vswitch.Bridge
	var ports []vswitch.Port
	var ifaces []vswitch.Interface
	if err := cl.List(ctx, &bridges); err != nil {
		return nil, err
	}
	if err := cl.List(ctx, &ports); err != nil {
		return nil, err
	}
	if err := cl.List(ctx, &ifaces); err != nil {
		return nil, err
	}
	portBridge := map[string]string{}
	for _, b := range bridges {
		for _, p := range b.Ports {
			portBridge[p] = b.Name
		}
	}
	ifaceBridge := map[string]string{}
	for _, p := range ports {
		for _, i := range p.Interfaces {
			ifaceBridge[i] = portBridge[p.UUID]
		}
	}
	out := map[string]holder{}
	for _, i := range ifaces {
		out[i.Name] = holder{Interface: i, bridge: ifaceBridge[i.UUID]}
	}
	return out, nil
}

// hwdbCollector exports hwdb_ports{flavour} from whichever enabled
// provider keeps a hardware database.
type hwdbCollector struct {
	desc *prometheus.Desc
	dbs  func() []*hwdb.DB
}

func newHWDBCollector(dbs func() []*hwdb.DB) *hwdbCollector {
	return &hwdbCollector{
		desc: prometheus.NewDesc(sidecar.Namespace+"_hwdb_ports", "Switchdev ports in the hardware database, by flavour.", []string{"flavour"}, nil),
		dbs:  dbs,
	}
}

func (c *hwdbCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *hwdbCollector) Collect(ch chan<- prometheus.Metric) {
	totals := map[hwdb.Flavour]int{}
	for _, db := range c.dbs() {
		for f, n := range db.Counts() {
			totals[f] += n
		}
	}
	for _, f := range hwdb.Flavours {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(totals[f]), f.String())
	}
}
