package representor_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb/hwdbtest"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/representor"
)

const (
	kVUID = representor.OptVUID
	pci1  = "0000:03:00.1"
	// Host 1's PF0 and host 2's PF0 on a multi-host card; PF1 of host 1
	// sits on the second ECPF.
	vuidH1PF0 = "e4092a71f9c1f0118000b45cb5355194MLNXS0D0F0"
	vuidH2PF0 = "e4092a71f9c1f0118000b45cb5355194MLNXS1D0F0"
	vuidH1PF1 = "e4092a71f9c1f0118000b45cb5355194MLNXS0D0F1"
	vuidNone  = "00000000000000000000000000000000MLNXS9D0F0"
)

// fakeDocaCaps writes a doca_caps stand-in that prints --list-rep-devs
// output in DOCA's layout and counts its runs, and points sriovnet at it.
func fakeDocaCaps(t *testing.T, delay string) (runs func() int) {
	t.Helper()
	dir := t.TempDir()
	count := filepath.Join(dir, "runs")
	listing := `PCI: ` + pci0 + `
        representor-PCI: 0000:b1:00.0
            pci_func_type                                 PF
            vuid                                          ` + vuidH1PF0 + `
            host_index                                    1
            pf_index                                      0
        representor-PCI: 0000:c1:00.0
            pci_func_type                                 PF
            vuid                                          ` + vuidH2PF0 + `
            host_index                                    2
            pf_index                                      0
PCI: ` + pci1 + `
        representor-PCI: 0000:b1:00.1
            pci_func_type                                 PF
            vuid                                          ` + vuidH1PF1 + `
            host_index                                    1
            pf_index                                      1
`
	script := "#!/bin/sh\necho run >> " + count + "\n[ \"$1\" = --list-rep-devs ] || exit 3\nsleep " + delay + "\ncat <<'EOF'\n" + listing + "EOF\n"
	bin := filepath.Join(dir, "doca_caps")
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SRIOVNET_DOCA_CAPS_BIN", bin)
	return func() int {
		b, _ := os.ReadFile(count)
		return strings.Count(string(b), "run")
	}
}

func multiHostTwoECPFs() hwdbtest.Spec {
	return hwdbtest.Spec{Netdevs: []hwdbtest.Netdev{
		{Name: "p0", PhysPortName: "p0", SwitchID: sw, Ifindex: 10, PCI: pci0},
		{Name: "h1pf0", PhysPortName: "c1pf0", SwitchID: sw, Ifindex: 11, PCI: pci0},
		{Name: "h2pf0", PhysPortName: "c2pf0", SwitchID: sw, Ifindex: 12, PCI: pci0},
		{Name: "h1pf0vf0", PhysPortName: "c1pf0vf0", SwitchID: sw, Ifindex: 13, PCI: pci0},
		{Name: "h2pf0vf0", PhysPortName: "c2pf0vf0", SwitchID: sw, Ifindex: 14, PCI: pci0},
		{Name: "h2pf0sf4", PhysPortName: "c2pf0sf4", SwitchID: sw, Ifindex: 15, PCI: pci0},
		{Name: "p1", PhysPortName: "p1", SwitchID: "0c42a1030065c6d0", Ifindex: 20, PCI: pci1},
		{Name: "h1pf1", PhysPortName: "c1pf1", SwitchID: "0c42a1030065c6d0", Ifindex: 21, PCI: pci1},
		{Name: "h1pf1vf2", PhysPortName: "c1pf1vf2", SwitchID: "0c42a1030065c6d0", Ifindex: 22, PCI: pci1},
	}}
}

// TestVUIDThroughDocaCaps resolves VUIDs with sriovnet running a fake
// doca_caps, on a multi-host card where the MAC alone is ambiguous.
func TestVUIDThroughDocaCaps(t *testing.T) {
	runs := fakeDocaCaps(t, "0")
	f := setup(t, multiHostTwoECPFs())
	f.plugs(t, opts(kVUID, vuidH2PF0, kVF, "0"), "h2pf0vf0")
	f.plugs(t, opts(kVUID, vuidH1PF0, kVF, "0"), "h1pf0vf0")
	f.plugs(t, opts(kVUID, vuidH1PF0), "h1pf0")
	f.plugs(t, opts(kVUID, vuidH2PF0, kSF, "4"), "h2pf0sf4")
	f.plugs(t, opts(kVUID, vuidH1PF1, kVF, "2"), "h1pf1vf2")
	f.refuses(t, opts(kVUID, vuidH1PF0, kVF, "7"), false, "no VF 7 representor")
	f.refuses(t, opts(kVUID, vuidNone, kVF, "0"), false, "doca_caps")
	n := runs()
	// Answers come from the cache: no further runs.
	f.plugs(t, opts(kVUID, vuidH2PF0, kVF, "0"), "h2pf0vf0")
	f.refuses(t, opts(kVUID, vuidNone, kVF, "0"), false, vuidNone)
	if runs() != n {
		t.Fatalf("doca_caps ran %d more times for cached VUIDs", runs()-n)
	}
	if n != 4 {
		t.Fatalf("doca_caps ran %d times for 4 distinct VUIDs", n)
	}
}

func TestVUIDOptions(t *testing.T) {
	fakeDocaCaps(t, "0")
	f := setup(t, multiHostTwoECPFs())
	f.refuses(t, opts(kVUID, vuidH1PF0, kMAC, macA), true, "both set")
	f.refuses(t, opts(kVUID, vuidH1PF0, kCtrl, "1"), true, kCtrl)
	f.refuses(t, opts(kVUID, ""), true, "empty")
	f.refuses(t, opts(kVUID, "abc; rm -rf /"), true, "letter or digit")
	f.refuses(t, opts(kVUID, strings.Repeat("a", 129)), true, "at most 128")
}

// TestVUIDSlowDocaCaps: a Prepare does not wait past its deadline; the
// answer arrives later, Changed is called, and the next Prepare plugs.
func TestVUIDSlowDocaCaps(t *testing.T) {
	fakeDocaCaps(t, "0.5")
	f := setup(t, multiHostTwoECPFs())
	before := f.changed.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var out providers.PortCtxOut
	err := f.p.Prepare(ctx, &providers.PortCtxIn{Op: providers.OpCreate, LportName: "lp1", LportOptions: opts(kVUID, vuidH1PF0, kVF, "0")}, &out)
	if !providers.IsNotReady(err) || !strings.Contains(err.Error(), "has not answered yet") {
		t.Fatalf("Prepare before doca_caps answered = %v, want not ready", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.changed.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("no Changed() after doca_caps answered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.plugs(t, opts(kVUID, vuidH1PF0, kVF, "0"), "h1pf0vf0")
}

// TestVUIDSharedCall: concurrent Prepares of one VUID share one call, and
// Destroy waits for a call in flight.
func TestVUIDSharedCall(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	p := representor.NewWithOptions(representor.Options{HWDB: hwdb.Options{NoDevlink: true}, ResolveVUID: func(string) (hwdb.PFLocation, error) {
		calls.Add(1)
		<-release
		return hwdb.PFLocation{}, errors.New("no such VUID")
	}})
	dir := t.TempDir()
	if err := hwdbtest.BuildTree(dir, multiHostTwoECPFs()); err != nil {
		t.Fatal(err)
	}
	if err := p.Init(providers.Env{SysfsRoot: dir}); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			errs <- p.Prepare(ctx, &providers.PortCtxIn{Op: providers.OpCreate, LportOptions: opts(kVUID, vuidH1PF0)}, &providers.PortCtxOut{})
		}()
	}
	for range 8 {
		if err := <-errs; !providers.IsNotReady(err) {
			t.Fatalf("Prepare = %v, want not ready", err)
		}
	}
	destroyed := make(chan struct{})
	go func() { _ = p.Destroy(); close(destroyed) }()
	select {
	case <-destroyed:
		t.Fatal("Destroy returned while a doca_caps call was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-destroyed
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls for one VUID, want 1", n)
	}
}

// TestVUIDSingleHostWithoutController: without devlink a single-host
// card's names carry no controller (pf0vf3), while doca_caps says host 1;
// the ECPF's only PF 0 is the one. An ECPF nothing hangs off is not ready.
func TestVUIDSingleHostWithoutController(t *testing.T) {
	locs := map[string]hwdb.PFLocation{
		vuidH1PF0: {ECPF: pci0, Controller: 1, PF: 0},
		vuidH2PF0: {ECPF: "0000:99:00.0", Controller: 1, PF: 0},
		vuidH1PF1: {ECPF: pci0, Controller: 1, PF: 1},
	}
	f := setupWith(t, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 4}}}.Spec(), representor.Options{
		HWDB: hwdb.Options{NoDevlink: true},
		ResolveVUID: func(v string) (hwdb.PFLocation, error) {
			if l, ok := locs[v]; ok {
				return l, nil
			}
			return hwdb.PFLocation{}, errors.New("unknown VUID")
		},
	})
	f.plugs(t, opts(kVUID, vuidH1PF0, kVF, "3"), "pf0vf3")
	f.plugs(t, opts(kVUID, vuidH1PF0), "pf0hpf")
	f.refuses(t, opts(kVUID, vuidH2PF0, kVF, "3"), false, "no switchdev port hangs off ECPF 0000:99:00.0")
	f.refuses(t, opts(kVUID, vuidH1PF1, kVF, "3"), false, "no host PF representor at ECPF "+pci0+" controller 1 pf 1")
}
