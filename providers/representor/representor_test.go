package representor_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb/hwdbtest"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/representor"
)

const (
	macA = "0c:42:a1:c6:cf:7c"
	macB = "0c:42:a1:c6:cf:7d"
	sw   = "0c42a1030065c6cf"
	pci0 = "0000:03:00.0"
)

type fixture struct {
	p       *representor.Provider
	dir     string
	changed atomic.Int32
}

// setup builds spec in a temp dir and inits a provider on it, without
// the netlink watcher (Run rescans instead).
func setup(t *testing.T, spec hwdbtest.Spec) *fixture {
	t.Helper()
	return setupWith(t, spec, representor.Options{HWDB: hwdb.Options{NoDevlink: true}})
}

func setupWith(t *testing.T, spec hwdbtest.Spec, o representor.Options) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	if err := hwdbtest.BuildTree(f.dir, spec); err != nil {
		t.Fatal(err)
	}
	f.p = representor.NewWithOptions(o)
	if err := f.p.Init(providers.Env{SysfsRoot: f.dir, Changed: func() { f.changed.Add(1) }}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.p.Destroy() })
	return f
}

func opts(kv ...string) map[string]string {
	m := map[string]string{"vif-plug-type": "representor"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func (f *fixture) prepare(o map[string]string) (providers.PortCtxOut, error) {
	var out providers.PortCtxOut
	err := f.p.Prepare(context.Background(), &providers.PortCtxIn{Op: providers.OpCreate, LportName: "lp1", LportOptions: o}, &out)
	return out, err
}

// plugs checks that the options plug the named system interface.
func (f *fixture) plugs(t *testing.T, o map[string]string, name string) {
	t.Helper()
	out, err := f.prepare(o)
	if err != nil {
		t.Fatalf("Prepare(%v): %v", o, err)
	}
	if out.Name != name || out.Type != "" || out.IfaceOptions != nil {
		t.Fatalf("Prepare(%v) = %+v, want system interface %s", o, out, name)
	}
}

// refuses checks the refusal type and that the reason mentions want.
func (f *fixture) refuses(t *testing.T, o map[string]string, invalid bool, want string) {
	t.Helper()
	_, err := f.prepare(o)
	switch {
	case err == nil:
		t.Fatalf("Prepare(%v) succeeded", o)
	case invalid && !providers.IsInvalid(err):
		t.Fatalf("Prepare(%v) = %v, want an InvalidError", o, err)
	case !invalid && !providers.IsNotReady(err):
		t.Fatalf("Prepare(%v) = %v, want a NotReadyError", o, err)
	case !strings.Contains(err.Error(), want):
		t.Fatalf("Prepare(%v) = %q, want it to mention %q", o, err, want)
	}
}

const (
	kMAC  = representor.OptPFMAC
	kVF   = representor.OptVFNum
	kSF   = representor.OptSFNum
	kCtrl = representor.OptController
)

func TestRegistered(t *testing.T) {
	f, ok := providers.CompiledFactory(representor.Type)
	if !ok {
		t.Fatal("representor did not register itself in init()")
	}
	if p, err := f.Build(nil); err != nil || p.Type() != "representor" {
		t.Fatalf("the default configuration does not build: %v, %v", p, err)
	}
	for k, v := range map[string]string{"watch": "sometimes", "resync-interval": "soon", "devlink": "2"} {
		if _, err := f.Build(map[string]string{k: v}); err == nil || !strings.Contains(err.Error(), "provider.representor."+k) {
			t.Errorf("%s=%s: %v, want an error naming the key", k, v, err)
		}
	}
	if !slices.Contains(providers.Compiled(), "representor") {
		t.Fatal("not in Compiled()")
	}
	m := representor.New().MaintainedIfaceOptions()
	if m == nil || len(m) != 0 {
		t.Fatalf("MaintainedIfaceOptions = %#v, want empty and non-nil", m)
	}
}

func TestBlueField2(t *testing.T) {
	f := setup(t, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 4}}}.Spec())
	f.plugs(t, opts(kMAC, macA, kVF, "3"), "pf0vf3")
	f.plugs(t, opts(kMAC, "0C:42:A1:C6:CF:7C", kVF, "0"), "pf0vf0")
	f.plugs(t, opts(kMAC, macA), "pf0hpf")
	f.plugs(t, opts(kMAC, macA, kVF, "3", kCtrl, "0"), "pf0vf3")
	f.refuses(t, opts(kMAC, macA, kVF, "4"), false, "no VF 4 representor")
	f.refuses(t, opts(kMAC, macB, kVF, "0"), false, "no host PF")
	f.refuses(t, opts(kMAC, macA, kVF, "3", kCtrl, "1"), false, "controller 1")
}

func TestBlueField3(t *testing.T) {
	spec := hwdbtest.DPU{Controller: 1, PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 4, SFs: []uint32{2}}}}.Spec()
	// The DPU's own SF 2 (controller 0, no c-prefix) is not the host's.
	spec.Netdevs = append(spec.Netdevs, hwdbtest.Netdev{Name: "dpusf2", PhysPortName: "pf0sf2", SwitchID: sw, Ifindex: 900, PCI: pci0})
	f := setup(t, spec)
	f.plugs(t, opts(kMAC, macA, kVF, "3"), "pf0vf3")
	f.plugs(t, opts(kMAC, macA), "pf0hpf")
	f.plugs(t, opts(kMAC, macA, kSF, "2"), "en3f0pf0sf2")
	f.plugs(t, opts(kMAC, macA, kSF, "2", kCtrl, "1"), "en3f0pf0sf2")
	f.refuses(t, opts(kMAC, macA, kSF, "2", kCtrl, "0"), false, "on controller 0")
}

func TestSubFunctions(t *testing.T) {
	f := setup(t, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 1, SFs: []uint32{0, 5}}}}.Spec())
	f.plugs(t, opts(kMAC, macA, kSF, "5"), "en3f0pf0sf5")
	f.plugs(t, opts(kMAC, macA, kSF, "0"), "en3f0pf0sf0")
	f.plugs(t, opts(kMAC, macA, kVF, "0"), "pf0vf0")
	f.refuses(t, opts(kMAC, macA, kSF, "1"), false, "no SF 1 representor")
}

func TestTwoPFs(t *testing.T) {
	f := setup(t, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 2}, {HostMAC: macB, VFs: 2}}}.Spec())
	f.plugs(t, opts(kMAC, macA, kVF, "1"), "pf0vf1")
	f.plugs(t, opts(kMAC, macB, kVF, "1"), "pf1vf1")
	f.plugs(t, opts(kMAC, macB), "pf1hpf")
	f.plugs(t, opts(kMAC, macA), "pf0hpf")
}

func TestMultiHost(t *testing.T) {
	f := setup(t, hwdbtest.Spec{
		Netdevs: []hwdbtest.Netdev{
			{Name: "p0", PhysPortName: "p0", SwitchID: sw, Ifindex: 10, PCI: pci0},
			{Name: "h1pf0", PhysPortName: "c1pf0", SwitchID: sw, Ifindex: 11, PCI: pci0},
			{Name: "h2pf0", PhysPortName: "c2pf0", SwitchID: sw, Ifindex: 12, PCI: pci0},
			{Name: "h1pf0vf0", PhysPortName: "c1pf0vf0", SwitchID: sw, Ifindex: 13, PCI: pci0},
			{Name: "h2pf0vf0", PhysPortName: "c2pf0vf0", SwitchID: sw, Ifindex: 14, PCI: pci0},
		},
		UplinkPFMACs: map[string]string{"p0": macA},
	})
	f.refuses(t, opts(kMAC, macA, kVF, "0"), true, kCtrl)
	f.plugs(t, opts(kMAC, macA, kVF, "0", kCtrl, "2"), "h2pf0vf0")
	f.plugs(t, opts(kMAC, macA, kVF, "0", kCtrl, "1"), "h1pf0vf0")
	f.plugs(t, opts(kMAC, macA, kCtrl, "2"), "h2pf0")
	f.refuses(t, opts(kMAC, macA, kVF, "0", kCtrl, "3"), false, "on controller 3")
}

func TestInvalidOptions(t *testing.T) {
	f := setup(t, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 1}}}.Spec())
	for _, tt := range []struct {
		o    map[string]string
		want string
	}{
		{opts(), kMAC + " is required"},
		{opts(kVF, "0"), kMAC + " is required"},
		{opts(kMAC, ""), "not a MAC"},
		{opts(kMAC, "0c:42:a1:c6:cf"), "not a MAC"},
		{opts(kMAC, "0c:42:a1:c6:cf:7g"), "not a MAC"},
		{opts(kMAC, "00:11:22:33:44:55:66:77"), "not a MAC"},
		{opts(kMAC, "00:00:00:00:00:00"), "zero MAC"},
		{opts(kMAC, "01:00:5e:00:00:01"), "multicast"},
		{opts(kMAC, macA, kVF, "-1"), "negative"},
		{opts(kMAC, macA, kVF, "abc"), "not a decimal"},
		{opts(kMAC, macA, kVF, "0x3"), "not a decimal"},
		{opts(kMAC, macA, kVF, " 3"), "not a decimal"},
		{opts(kMAC, macA, kVF, "+3"), "not a decimal"},
		{opts(kMAC, macA, kVF, ""), "empty"},
		{opts(kMAC, macA, kVF, "65536"), "out of range (0..65535)"},
		{opts(kMAC, macA, kVF, "99999999999999999999999"), "out of range"},
		{opts(kMAC, macA, kSF, "4294967296"), "out of range (0..4294967295)"},
		{opts(kMAC, macA, kVF, "1", kSF, "1"), "both set"},
		{opts(kMAC, macA, kCtrl, "-1"), "negative"},
		{opts(kMAC, macA, kCtrl, "one"), kCtrl},
	} {
		f.refuses(t, tt.o, true, tt.want)
	}
}

// A representor that still has its kernel name is about to be renamed;
// plugging it under that name would leave a dangling OVS port.
func TestKernelNameThenRename(t *testing.T) {
	spec := hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA}}}.Spec()
	spec.Netdevs = append(spec.Netdevs, hwdbtest.Netdev{Name: "eth5", PhysPortName: "pf0vf3", SwitchID: sw, Ifindex: 300, PCI: pci0})
	f := setup(t, spec)
	o := opts(kMAC, macA, kVF, "3")
	f.refuses(t, o, false, "kernel-assigned name")
	if err := hwdbtest.RenameNetdev(f.dir, "eth5", "pf0vf3"); err != nil {
		t.Fatal(err)
	}
	before := f.changed.Load()
	if !f.p.Run(context.Background()) {
		t.Fatal("Run saw no change after the rename")
	}
	if f.changed.Load() != before+1 {
		t.Fatalf("env.Changed called %d times, want 1", f.changed.Load()-before)
	}
	f.plugs(t, o, "pf0vf3")
	if f.p.Run(context.Background()) {
		t.Fatal("Run reported a change when nothing changed")
	}
}

func TestLateHardware(t *testing.T) {
	f := setup(t, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA}}}.Spec())
	o := opts(kMAC, macA, kVF, "7")
	f.refuses(t, o, false, "no VF 7")
	if err := hwdbtest.AddNetdev(f.dir, hwdbtest.Netdev{Name: "pf0vf7", PhysPortName: "pf0vf7", SwitchID: sw, Ifindex: 307, PCI: pci0}); err != nil {
		t.Fatal(err)
	}
	if !f.p.Run(context.Background()) || f.changed.Load() == 0 {
		t.Fatal("new VF not noticed")
	}
	f.plugs(t, o, "pf0vf7")
	// It goes away again.
	if err := hwdbtest.RemoveNetdev(f.dir, "pf0vf7"); err != nil {
		t.Fatal(err)
	}
	f.p.DB().Refresh("pf0vf7")
	f.refuses(t, o, false, "no VF 7")
	// An unknown host PF may appear too.
	o = opts(kMAC, macB)
	f.refuses(t, o, false, "no host PF")
	spec := hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{}, {HostMAC: macB}}, FirstIfindex: 400}.Spec()
	spec.Netdevs = spec.Netdevs[2:] // p1 and pf1hpf only
	if err := hwdbtest.BuildTree(f.dir, spec); err != nil {
		t.Fatal(err)
	}
	f.p.Run(context.Background())
	f.plugs(t, o, "pf1hpf")
}

func TestRemoveAlwaysAllowed(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	in := &providers.PortCtxIn{Op: providers.OpRemove, LportName: "lp1", LportOptions: opts(kMAC, "garbage", kVF, "-1")}
	// Before Init, with a cancelled context and garbage options.
	p := representor.NewWithOptions(representor.Options{})
	if err := p.Prepare(cancelled, in, nil); err != nil {
		t.Fatalf("remove before Init: %v", err)
	}
	f := setup(t, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA}}}.Spec())
	if err := f.p.Prepare(cancelled, in, nil); err != nil {
		t.Fatalf("remove: %v", err)
	}
}

func TestPrepareRespectsContext(t *testing.T) {
	f := setup(t, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 1}}}.Spec())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out providers.PortCtxOut
	err := f.p.Prepare(ctx, &providers.PortCtxIn{Op: providers.OpCreate, LportOptions: opts(kMAC, macA, kVF, "0")}, &out)
	if !providers.IsNotReady(err) || out.Name != "" {
		t.Fatalf("Prepare with a cancelled context = %v, %+v", err, out)
	}
}

func TestLifecycle(t *testing.T) {
	p := representor.NewWithOptions(representor.Options{HWDB: hwdb.Options{NoDevlink: true}})
	if _, err := (&fixture{p: p}).prepare(opts(kMAC, macA)); !providers.IsNotReady(err) {
		t.Fatalf("Prepare before Init: %v", err)
	}
	if p.Run(context.Background()) || p.DB() != nil {
		t.Fatal("Run/DB before Init")
	}
	if err := p.Init(providers.Env{SysfsRoot: t.TempDir() + "/missing"}); err == nil {
		t.Fatal("Init on a missing sysfs root succeeded")
	}
	dir := t.TempDir()
	if err := hwdbtest.BuildTree(dir, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA}}}.Spec()); err != nil {
		t.Fatal(err)
	}
	if err := p.Init(providers.Env{SysfsRoot: dir}); err != nil { // nil Changed is fine
		t.Fatal(err)
	}
	first := p.DB()
	// A second Init replaces the first index and stops its watcher.
	if err := p.Init(providers.Env{SysfsRoot: dir}); err != nil || p.DB() == first || first.Watching() {
		t.Fatalf("second Init: %v", err)
	}
	f := &fixture{p: p}
	f.plugs(t, opts(kMAC, macA), "pf0hpf")
	if err := p.Destroy(); err != nil {
		t.Fatal(err)
	}
	if err := p.Destroy(); err != nil {
		t.Fatal(err)
	}
	f.refuses(t, opts(kMAC, macA), false, "not initialised")
	// It can be registered again.
	if err := p.Init(providers.Env{SysfsRoot: dir}); err != nil {
		t.Fatal(err)
	}
	f.plugs(t, opts(kMAC, macA), "pf0hpf")
	_ = p.Destroy()
}

// Through the registry, as the engine uses it.
func TestRegistry(t *testing.T) {
	dir := t.TempDir()
	if err := hwdbtest.BuildTree(dir, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 1}}}.Spec()); err != nil {
		t.Fatal(err)
	}
	r := providers.NewRegistry(func(string) providers.Env { return providers.Env{SysfsRoot: dir, Changed: func() {}} })
	if err := r.Register(representor.NewWithOptions(representor.Options{HWDB: hwdb.Options{NoDevlink: true}})); err != nil {
		t.Fatal(err)
	}
	defer r.DestroyAll()
	p, err := r.Get("representor")
	if err != nil {
		t.Fatal(err)
	}
	var out providers.PortCtxOut
	if err := p.Prepare(context.Background(), &providers.PortCtxIn{Op: providers.OpCreate, LportOptions: opts(kMAC, macA, kVF, "0")}, &out); err != nil || out.Name != "pf0vf0" {
		t.Fatalf("Prepare via registry: %+v, %v", out, err)
	}
}

// fakeNetlink stands in for netlink.LinkSubscribeWithOptions.
type fakeNetlink struct {
	mu   sync.Mutex
	ch   chan<- netlink.LinkUpdate
	done bool
	subs chan struct{}
}

func (f *fakeNetlink) subscribe(ch chan<- netlink.LinkUpdate, done <-chan struct{}, _ netlink.LinkSubscribeOptions) error {
	f.mu.Lock()
	f.ch, f.done = ch, false
	f.mu.Unlock()
	go func() {
		<-done
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.done {
			f.done = true
			close(ch)
		}
	}()
	f.subs <- struct{}{}
	return nil
}

func (f *fakeNetlink) newlink(ifindex int, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return
	}
	u := netlink.LinkUpdate{Link: &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: ifindex, Name: name}}}
	u.Header.Type = unix.RTM_NEWLINK
	f.ch <- u
}

// With the watcher on, a link event alone makes the port pluggable and
// tells the engine, and Run does not rescan.
func TestWatcherDrivesChanged(t *testing.T) {
	nl := &fakeNetlink{subs: make(chan struct{}, 4)}
	changed := make(chan struct{}, 100)
	dir := t.TempDir()
	if err := hwdbtest.BuildTree(dir, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA}}}.Spec()); err != nil {
		t.Fatal(err)
	}
	p := representor.NewWithOptions(representor.Options{Watch: true, HWDB: hwdb.Options{
		NoDevlink: true, Subscribe: nl.subscribe, Coalesce: time.Millisecond, ResyncInterval: -1,
	}})
	if err := p.Init(providers.Env{SysfsRoot: dir, Changed: func() { changed <- struct{}{} }}); err != nil {
		t.Fatal(err)
	}
	defer p.Destroy()
	<-nl.subs
	<-changed // Init's own scan
	deadline := time.Now().Add(5 * time.Second)
	for !p.DB().Watching() {
		if time.Now().After(deadline) {
			t.Fatal("watcher did not start")
		}
		time.Sleep(time.Millisecond)
	}
	f := &fixture{p: p, dir: dir}
	o := opts(kMAC, macA, kVF, "2")

	// Without an event, the tree change is not seen: Run does not scan
	// while the watcher is live.
	if err := hwdbtest.AddNetdev(dir, hwdbtest.Netdev{Name: "pf0vf2", PhysPortName: "pf0vf2", SwitchID: sw, Ifindex: 302, PCI: pci0}); err != nil {
		t.Fatal(err)
	}
	p.Run(context.Background())
	f.refuses(t, o, false, "no VF 2")

	nl.newlink(302, "pf0vf2")
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("env.Changed not called for a new representor")
	}
	f.plugs(t, o, "pf0vf2")
	if !p.Run(context.Background()) {
		t.Fatal("Run did not report the change")
	}
}
