// Command sandbox runs a throwaway OVS/OVN stack with the sidecar and a
// simulated BlueField DPU (internal/dpusim): real veth representors
// (pf0hpf, pf0vf0, ...) beside ovs-vswitchd, a kernel-layout sysfs tree
// passed to the sidecar with --sysfs-root, and a network namespace per VM
// behind each representor. It plugs two VF ports the way Neutron asks for
// them, shows the two VMs pinging each other through OVN, prints
// `ovn-vif-sidecar hw` and `status`, and then waits for Ctrl-C, printing
// the exact commands to drive it by hand: more ports, late VFs, udev
// renames, pings. A small HTTP API on loopback (curl) adds, removes and
// renames representors and pings between VMs; iputils is not needed.
// Needs root and the Debian OVS/OVN packages; `make sandbox` installs them
// and builds the sidecar first.
//
// Usage:
//
//	go run ./cmd/sandbox [flags] [-- extra sidecar flags]
//	go run ./cmd/sandbox ping [-c N] NETNS ADDRESS
//
// -exit-after stops it on its own, for smoke tests; the exit status is 1
// if the demo ports did not plug or the VMs could not ping each other.
// With -mode=ovn-plug there is no sidecar, hence no representors:
// ovn-controller's own dummy provider plugs the dummy demo ports.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb/hwdbtest"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/dpusim"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// sw is the logical switch every demo port is on.
const sw = "sw0"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "ping" {
		os.Exit(runPing(os.Args[2:]))
	}
	os.Exit(run())
}

func run() int {
	mode := flag.String("mode", "sidecar", "who plugs ports: sidecar, or ovn-plug (ovn-controller --enable-dummy-vif-plug; no DPU)")
	chassis := flag.String("chassis", "ch1", "chassis name (system-id)")
	vfs := flag.Int("vfs", 4, "VFs of the simulated DPU's PF 0 (at least 4)")
	pfMAC := flag.String("pf-mac", dpusim.DefaultHostPFMAC, "host PF MAC of the simulated DPU")
	dummy := flag.Bool("dummy", false, "also plug two dummy-provider demo ports (always on with -mode=ovn-plug)")
	exitAfter := flag.Duration("exit-after", 0, "stop after this long instead of waiting for Ctrl-C (for smoke tests)")
	ctlAddr := flag.String("control-addr", "127.0.0.1:0", "listen address of the sandbox's own HTTP API (add/remove/rename VFs, ping)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: sandbox [flags] [-- extra sidecar flags]\n       sandbox ping [-c N] NETNS ADDRESS\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	opts := stack.Options{Chassis: *chassis, SidecarArgs: flag.Args(), ManualSidecar: true}
	switch *mode {
	case "sidecar":
	case "ovn-plug":
		opts.Mode = stack.ModeOVNPlug
		*dummy = true
	default:
		flag.Usage()
		return 2
	}
	if *vfs < 4 || *vfs > 2000 {
		fmt.Fprintln(os.Stderr, "sandbox: -vfs must be 4..2000")
		return 2
	}

	// From here on every way out runs the cleanups: signals that arrive
	// during set-up are acted on once it is done.
	sigs := stopSignals()
	p := stack.NewProgram(os.Stderr)
	defer p.Close()
	s := stack.New(p, opts)
	var sb *sandbox
	if s.Sidecar != nil {
		sb = newSandbox(p, s, *vfs, *pfMAC)
	}
	ok := true
	if *dummy {
		ok = plugDummy(p, s) && ok
	}
	if sb != nil {
		ok = sb.demo() && ok
		if err := sb.serve(*ctlAddr); err != nil {
			p.Fatalf("sandbox: control API: %v", err)
		}
	}
	printGuide(s, sb, *dummy)
	if !ok {
		fmt.Printf("\nWARNING: the demo did not fully work; see above and the logs in %s\n", s.Dir)
	}

	var timeout <-chan time.Time
	if *exitAfter > 0 {
		timeout = time.After(*exitAfter)
	}
	waitAndClean(p, sigs, timeout, os.Stdout)
	if !ok || p.Failed() {
		return 1
	}
	return 0
}

// stopSignals returns the signals that stop the sandbox: Ctrl-C, kill,
// and a closed terminal. SIGPIPE is ignored: under `make sandbox | tee
// log`, Ctrl-C kills tee first, and the next write to stdout must fail
// with EPIPE rather than kill the sandbox before it cleans up.
func stopSignals() <-chan os.Signal {
	signal.Ignore(syscall.SIGPIPE)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	return sigs
}

// waitAndClean waits for a stop signal or the timeout, then runs the
// cleanups. Output may go nowhere by then; errors writing it are ignored.
func waitAndClean(p *stack.Program, sigs <-chan os.Signal, timeout <-chan time.Time, out io.Writer) {
	select {
	case sig := <-sigs:
		fmt.Fprintf(out, "\n%v: stopping\n", sig)
	case <-timeout:
		fmt.Fprintln(out, "\n-exit-after: stopping")
	}
	p.Close()
}

// sandbox is the DPU part: the simulated hardware and the stack it
// feeds.
type sandbox struct {
	p       *stack.Program
	s       *stack.Stack
	sim     *dpusim.Sim
	bin     string
	ctlURL  string
	vfs     int
	nb      string
	lspByVM map[string]string // VM name -> LSP
}

func newSandbox(p *stack.Program, s *stack.Stack, vfs int, pfMAC string) *sandbox {
	sim := dpusim.New(p, dpusim.Options{
		NetNS: s.NetNS,
		Dir:   filepath.Join(s.Dir, "sysfs"),
		DPU:   hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: pfMAC, VFs: vfs}}},
	})
	// Stop the sidecar before the simulator takes the hardware away.
	p.Cleanup(func() {
		if err := s.Sidecar.Stop(); err != nil {
			p.Logf("sandbox: sidecar on SIGTERM: %v", err)
		}
	})
	s.StartSidecar(sim.SysfsRootFlag())
	return &sandbox{p: p, s: s, sim: sim, bin: s.Sidecar.Args()[0], vfs: vfs,
		nb: "ovn-nbctl --db=" + s.NBRemote(), lspByVM: map[string]string{}}
}

// lspArgs are the ovn-nbctl arguments that add lsp for VM v, the way
// Neutron asks for a representor port.
func lspArgs(chassis, lsp string, v dpusim.VM) []string {
	args := []string{"--may-exist", "ls-add", sw,
		"--", "lsp-add", sw, lsp,
		"--", "lsp-set-addresses", lsp, v.Addresses(),
		"--", "lsp-set-options", lsp}
	return append(args, v.PlugOptions(chassis)...)
}

// shellArgs quotes what needs quoting for a copy-paste command line.
func shellArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\*?&;|<>()") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// demo plugs vm0 and vm1 on VFs 0 and 1, pings both ways and shows hw and
// status. It reports whether everything worked.
func (b *sandbox) demo() bool {
	vm0, vm1 := b.sim.VF(0, 0), b.sim.VF(0, 1)
	b.lspByVM[vm0.Name], b.lspByVM[vm1.Name] = "vm0", "vm1"
	args := lspArgs(b.s.Chassis, "vm0", vm0)
	args = append(args, lspArgs(b.s.Chassis, "vm1", vm1)[3:]...) // from its "--"
	fmt.Printf("\n$ %s %s\n", b.nb, shellArgs(args))
	b.s.NBCtl(args...)
	ok := waitPlugged(b.p, b.s, map[string]string{"vm0": vm0.Representor, "vm1": vm1.Representor})

	for _, pair := range [][2]dpusim.VM{{vm0, vm1}, {vm1, vm0}} {
		from, to := pair[0], pair[1]
		fmt.Printf("\n$ ip netns exec %s ping -c 3 %s    # %s (%s) -> %s (%s), through OVN\n",
			from.NetNS, to.IP, b.lspByVM[from.Name], from.Representor, b.lspByVM[to.Name], to.Representor)
		r, err := pingUntil(from.NetNS, to.IP, 10*time.Second)
		if err != nil {
			fmt.Printf("ping failed: %v\n", err)
			ok = false
			continue
		}
		fmt.Println(r)
		if r.Received != r.Sent {
			ok = false
		}
	}

	for _, cmd := range [][]string{b.hwCommand(), b.statusCommand()} {
		fmt.Printf("\n$ %s\n", strings.Join(cmd, " "))
		out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
		fmt.Print(string(out))
		if err != nil {
			fmt.Printf("(%v)\n", err)
			ok = false
		}
	}
	return ok
}

// pingUntil waits (up to wait) for one echo to get through, then sends
// three and returns their transcript.
func pingUntil(ns string, dst netip.Addr, wait time.Duration) (dpusim.PingResult, error) {
	deadline := time.Now().Add(wait)
	for {
		r, err := dpusim.Ping(ns, dst, dpusim.PingOptions{Count: 1, Wait: 500 * time.Millisecond})
		if err != nil {
			return r, err
		}
		if r.Received == 1 || time.Now().After(deadline) {
			break
		}
	}
	return dpusim.Ping(ns, dst, dpusim.PingOptions{Count: 3})
}

func (b *sandbox) hwCommand() []string {
	return []string{b.bin, "hw", b.sim.SysfsRootFlag(), "--ovs-db=" + b.s.OVSRemote()}
}

func (b *sandbox) statusCommand() []string {
	return []string{b.bin, "status", "--http-addr=" + strings.TrimPrefix(b.s.SidecarURL(), "http://")}
}

// waitPlugged waits for each LSP to be plugged on its interface and up,
// but keeps the sandbox running if they are not, so that the user can
// look at why.
func waitPlugged(p *stack.Program, s *stack.Stack, want map[string]string) bool {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ifaces, up := s.Interfaces(), s.LSPsUp()
		var pending []string
		for lsp, iface := range want {
			i := ifaces[iface]
			if i.ExternalIDs["ovn-plugged"] == "" || i.ExternalIDs["iface-id"] != lsp || !up[lsp] {
				pending = append(pending, lsp+" on "+iface)
			}
		}
		if len(pending) == 0 {
			var names []string
			for lsp, iface := range want {
				names = append(names, lsp+" on "+iface)
			}
			p.Logf("sandbox: plugged and up: %s", strings.Join(names, ", "))
			return true
		}
		if time.Now().After(deadline) {
			p.Logf("sandbox: WARNING: %s not plugged and up after 30s; see the logs in %s", strings.Join(pending, ", "), s.Dir)
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// plugDummy plugs the two dummy-provider demo ports.
func plugDummy(p *stack.Program, s *stack.Stack) bool {
	args := []string{"--may-exist", "ls-add", sw}
	for _, d := range []struct {
		lsp   string
		extra []string
	}{
		{"demo1", nil},
		{"demo2", []string{"vif-plug-mtu-request=1400"}},
	} {
		args = append(args, "--", "lsp-add", sw, d.lsp,
			"--", "lsp-set-options", d.lsp, "requested-chassis="+s.Chassis, "vif-plug-type=dummy")
		args = append(args, d.extra...)
	}
	s.NBCtl(args...)
	return waitPlugged(p, s, map[string]string{"demo1": "demo1", "demo2": "demo2"})
}

func printGuide(s *stack.Stack, b *sandbox, dummy bool) {
	nb := "ovn-nbctl --db=" + s.NBRemote()
	sb := "ovn-sbctl --db=" + s.SBRemote()
	vs := "ovs-vsctl --db=" + s.OVSRemote()
	fmt.Printf(`
OVS/OVN sandbox is up: mode %s, chassis %s, netns %s.
Databases, sockets and logs: %s
`, s.Mode, s.Chassis, s.NetNS, s.Dir)
	if s.Sidecar != nil {
		fmt.Printf("Sidecar HTTP: %s (forwarded to %s inside netns %s)\nSidecar log: %s\n",
			s.SidecarURL(), s.SidecarAddr(), s.NetNS, s.Sidecar.OutPath())
		fmt.Printf("  curl %s/ports\n", s.SidecarURL())
	}
	links := "the ports' tap devices"
	if b != nil {
		links = "representors, uplink, br-int"
	}
	fmt.Printf(`
Look around:
  %[1]s show
  %[2]s show
  %[3]s show
  ip netns exec %[4]s ip link    # %[5]s
`, nb, sb, vs, s.NetNS, links)
	if b != nil {
		b.printDPUGuide(nb, vs)
	}
	if dummy {
		fmt.Printf(`
Dummy-provider ports:
  %[1]s lsp-add sw0 demo3 -- lsp-set-options demo3 requested-chassis=%[3]s vif-plug-type=dummy vif-plug-mtu-request=1300
  %[2]s list Interface demo3
  %[1]s lsp-set-options demo3 requested-chassis=%[3]s vif-plug-type=dummy
  %[1]s lsp-del demo3
`, nb, vs, s.Chassis)
	}
	if b != nil {
		fmt.Printf("\nPress Ctrl-C to stop everything and remove %s and the VM namespaces.\n", s.Dir)
	} else {
		fmt.Printf("\nPress Ctrl-C to stop everything and remove %s.\n", s.Dir)
	}
}

func (b *sandbox) printDPUGuide(nb, vs string) {
	ctl := b.ctlURL
	fmt.Printf(`
Simulated DPU: sysfs tree %[1]s, host PF MAC %[2]s, uplink p0.
VMs (a namespace each; eth0 is the host side of the representor):
`, b.sim.Dir(), b.sim.HostPFMAC(0))
	for _, v := range b.sim.VMs() {
		lsp := b.lspByVM[v.Name]
		if lsp == "" {
			lsp = "-"
		}
		fmt.Printf("  %-7s representor %-7s lsp %-4s netns %s  %s/%d\n", v.Name, v.Representor, lsp, v.NetNS, v.IP, v.Prefix.Bits())
	}
	vf2 := b.sim.VF(0, 2)
	host := b.sim.HostPF(0)
	late, _ := b.sim.Plan(dpusim.KindVF, 0, uint32(b.vfs))
	vm0 := b.sim.VF(0, 0)
	vf3 := b.sim.VF(0, 3)
	moveArgs := append([]string{"lsp-set-addresses", "vm1", vf3.Addresses(), "--", "lsp-set-options", "vm1"}, vf3.PlugOptions(b.s.Chassis)...)
	fmt.Printf(`
Plug VF 2 (its VM exists) and ping from it:
  %[1]s %[2]s
  curl '%[3]s/ping?from=%[4]s&to=%[5]s'
  ip netns exec %[6]s ping -c 3 %[5]s    # if iputils-ping is installed
  go run ./cmd/sandbox ping %[6]s %[5]s  # same, without iputils

Plug the host PF (pf-mac alone -> pf0hpf):
  %[1]s %[7]s

Late hardware: ask for VF %[8]d before it exists, then create it:
  %[1]s %[9]s
  %[10]s    # vm%[8]d is pending: no VF %[8]d
  curl -X POST '%[3]s/vfs?pf=0&vf=%[8]d'    # the representor appears; vm%[8]d is plugged within ~0.1s
  curl '%[3]s/ping?from=%[11]s&to=%[5]s'

udev renames a representor (the OVS interface follows it):
  curl -X POST '%[3]s/rename?from=%[4]s&to=vf2renamed'
  %[12]s list Interface vf2renamed

A representor that appears with its kernel name first, then udev's:
  curl -X POST '%[3]s/vfs?pf=0&vf=%[13]d&name=eth9'    # not plugged under eth9
  curl -X POST '%[3]s/rename?from=eth9&to=pf0vf%[13]d'

Move vm1 to VF 3 in place (pf0vf1 is unplugged, pf0vf3 plugged), remove a VF, list the VMs:
  %[1]s %[14]s
  curl -X DELETE '%[3]s/vfs?pf=0&vf=%[8]d'
  curl '%[3]s/vms'

The sidecar's view:
  %[15]s
  %[10]s
`, nb, shellArgs(lspArgs(b.s.Chassis, "vm2", vf2)), ctl, vf2.Name, vm0.IP, vf2.NetNS,
		shellArgs(lspArgs(b.s.Chassis, "host", host)), b.vfs,
		shellArgs(lspArgs(b.s.Chassis, fmt.Sprintf("vm%d", b.vfs), late)), strings.Join(b.statusCommand(), " "),
		late.Name, vs, b.vfs+1, shellArgs(moveArgs), strings.Join(b.hwCommand(), " "))
}

// serve starts the control API on addr (loopback): the sandbox owns the
// simulated hardware, so changes go through it and are cleaned up with
// it.
func (b *sandbox) serve(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	b.ctlURL = "http://" + l.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /vms", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, b.sim.VMs())
	})
	mux.HandleFunc("POST /vfs", func(w http.ResponseWriter, r *http.Request) {
		pf, vf, err := pfVF(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		v, err := b.sim.AddVFErr(pf, vf, r.URL.Query().Get("name"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		b.p.Logf("sandbox: added VF %d of PF %d: representor %s (ifindex %d), VM %s %s", vf, pf, v.Representor, v.Ifindex, v.NetNS, v.IP)
		writeJSON(w, v)
	})
	mux.HandleFunc("DELETE /vfs", func(w http.ResponseWriter, r *http.Request) {
		pf, vf, err := pfVF(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		v, err := b.sim.Plan(dpusim.KindVF, pf, uint32(vf))
		if err == nil {
			err = b.sim.RemoveErr(v.Name)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		b.p.Logf("sandbox: removed VF %d of PF %d", vf, pf)
		fmt.Fprintf(w, "removed %s\n", v.Name)
	})
	mux.HandleFunc("POST /rename", func(w http.ResponseWriter, r *http.Request) {
		from, to := r.URL.Query().Get("from"), r.URL.Query().Get("to")
		if err := b.sim.RenameRepresentorErr(from, to); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		b.p.Logf("sandbox: renamed representor %s to %s", from, to)
		fmt.Fprintf(w, "renamed %s to %s\n", from, to)
	})
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		v, ok := b.sim.LookupVM(q.Get("from"))
		if !ok {
			http.Error(w, fmt.Sprintf("no VM or representor %q", q.Get("from")), http.StatusNotFound)
			return
		}
		dst, err := netip.ParseAddr(q.Get("to"))
		if err != nil {
			http.Error(w, "to: "+err.Error(), http.StatusBadRequest)
			return
		}
		count := 3
		if c := q.Get("count"); c != "" {
			n, err := strconv.Atoi(c)
			if err != nil || n < 1 || n > 100 {
				http.Error(w, "count: want 1..100", http.StatusBadRequest)
				return
			}
			count = n
		}
		res, err := dpusim.Ping(v.NetNS, dst, dpusim.PingOptions{Count: count})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, res)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.p.Logf("sandbox: control API: %v", err)
		}
	}()
	b.p.Cleanup(func() { _ = srv.Close() })
	return nil
}

func pfVF(r *http.Request) (pf, vf int, err error) {
	q := r.URL.Query()
	pf, err = strconv.Atoi(q.Get("pf"))
	if err != nil {
		return 0, 0, fmt.Errorf("pf: want a number, got %q", q.Get("pf"))
	}
	vf, err = strconv.Atoi(q.Get("vf"))
	if err != nil {
		return 0, 0, fmt.Errorf("vf: want a number, got %q", q.Get("vf"))
	}
	return pf, vf, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// runPing is `sandbox ping [-c N] NETNS ADDRESS`: ping(8) for machines
// without iputils.
func runPing(args []string) int {
	fs := flag.NewFlagSet("sandbox ping", flag.ContinueOnError)
	count := fs.Int("c", 3, "echo requests to send")
	if err := fs.Parse(args); err != nil || fs.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: sandbox ping [-c N] NETNS ADDRESS")
		return 2
	}
	dst, err := netip.ParseAddr(fs.Arg(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	r, err := dpusim.Ping(fs.Arg(0), dst, dpusim.PingOptions{Count: *count})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println(r)
	if r.Received == 0 {
		return 1
	}
	return 0
}
