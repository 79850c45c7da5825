// Command sandbox runs a throwaway OVS/OVN stack with the sidecar plugging
// ports, plugs two demo ports and waits for Ctrl-C. It prints the commands
// to drive the stack by hand. Needs root and the Debian OVS/OVN packages;
// `make sandbox` installs them and builds the sidecar first.
//
// Usage: go run ./cmd/sandbox [-mode=sidecar|ovn-plug] [-chassis=NAME] [-- extra sidecar flags]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

func main() {
	mode := flag.String("mode", "sidecar", "who plugs ports: sidecar, or ovn-plug (ovn-controller --enable-dummy-vif-plug)")
	chassis := flag.String("chassis", "ch1", "chassis name (system-id)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: sandbox [flags] [-- extra sidecar flags]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	opts := stack.Options{Chassis: *chassis, SidecarArgs: flag.Args()}
	switch *mode {
	case "sidecar":
	case "ovn-plug":
		opts.Mode = stack.ModeOVNPlug
	default:
		flag.Usage()
		os.Exit(2)
	}

	p := stack.NewProgram(os.Stderr)
	defer p.Close()
	s := stack.New(p, opts)

	args := []string{"ls-add", "sw0"}
	for _, d := range []struct {
		lsp   string
		extra []string
	}{
		{"demo1", nil},
		{"demo2", []string{"vif-plug-mtu-request=1400"}},
	} {
		args = append(args, "--", "lsp-add", "sw0", d.lsp,
			"--", "lsp-set-options", d.lsp, "requested-chassis="+s.Chassis, "vif-plug-type=dummy")
		args = append(args, d.extra...)
	}
	s.NBCtl(args...)
	waitDemo(p, s, "demo1", "demo2")

	nb := "ovn-nbctl --db=" + s.NBRemote()
	sb := "ovn-sbctl --db=" + s.SBRemote()
	vs := "ovs-vsctl --db=" + s.OVSRemote()
	fmt.Printf(`
OVS/OVN sandbox is up: mode %s, chassis %s.
Databases, sockets and logs: %s
`, s.Mode, s.Chassis, s.Dir)
	if s.Sidecar != nil {
		fmt.Printf("Sidecar HTTP: %s (forwarded to %s inside netns %s)\nSidecar log: %s\n",
			s.SidecarURL(), s.SidecarAddr(), s.NetNS, s.Sidecar.OutPath())
		fmt.Printf("  curl %s/ports\n", s.SidecarURL())
	}
	fmt.Printf(`
Drive it from another shell:
  %[1]s show
  %[1]s lsp-add sw0 demo3 -- lsp-set-options demo3 requested-chassis=%[4]s vif-plug-type=dummy vif-plug-mtu-request=1300
  %[3]s list Interface demo3
  %[1]s lsp-set-options demo3 requested-chassis=%[4]s vif-plug-type=dummy
  %[1]s lsp-del demo3
  %[2]s show
  %[3]s show
  ip netns exec %[5]s ip link    # the ports' tap devices

Press Ctrl-C to stop everything and remove %[6]s.
`, nb, sb, vs, s.Chassis, s.NetNS, s.Dir)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
	fmt.Println("\nstopping")
}

// waitDemo waits for the demo ports to be plugged and up, but keeps the
// sandbox running if they are not, so the user can look at why.
func waitDemo(p *stack.Program, s *stack.Stack, lsps ...string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ifaces, up := s.Interfaces(), s.LSPsUp()
		var pending []string
		for _, lsp := range lsps {
			if ifaces[lsp].ExternalIDs["ovn-plugged"] == "" || !up[lsp] {
				pending = append(pending, lsp)
			}
		}
		if len(pending) == 0 {
			p.Logf("sandbox: %s plugged and up", strings.Join(lsps, ", "))
			return
		}
		if time.Now().After(deadline) {
			p.Logf("sandbox: WARNING: %s not plugged and up after 30s; see the logs in %s", strings.Join(pending, ", "), s.Dir)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
