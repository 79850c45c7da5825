//go:build e2e

package e2e

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// fakeSidecarEnv makes the test binary act as a stand-in sidecar, so the
// harness's process control can be tested without the real one.
const fakeSidecarEnv = "E2E_FAKE_SIDECAR"

func TestMain(m *testing.M) {
	if os.Getenv(fakeSidecarEnv) != "" {
		fakeSidecar()
		return
	}
	os.Exit(runWithSidecar(m))
}

// runWithSidecar builds the sidecar from this source tree, as `make build`
// does, and points the stacks at it, so that e2e never tests a stale
// binary. OVN_VIF_SIDECAR_BIN, if set, names a binary to test instead
// (for example one built with out-of-tree providers).
func runWithSidecar(m *testing.M) int {
	if os.Getenv(stack.EnvSidecarBin) != "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "ovn-vif-sidecar-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err := buildSidecar(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building the sidecar from source failed (fix the build, or set %s to a binary to test):\n%v\n",
			stack.EnvSidecarBin, err)
		return 1
	}
	os.Setenv(stack.EnvSidecarBin, bin)
	return m.Run()
}

// buildSidecar runs `go build` of ./cmd/ovn-vif-sidecar into dir with the
// flags of `make build` (static, version stamped). `go test` puts its own
// go first on PATH, so this is the toolchain that built the test.
func buildSidecar(dir string) (string, error) {
	root, err := stack.RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ovn-vif-sidecar")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version=e2e-"+gitDescribe(root), "-o", bin, "./cmd/ovn-vif-sidecar")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return bin, nil
}

// gitDescribe names the tree being tested in the sidecar's version, or
// "nogit" outside a git checkout.
func gitDescribe(root string) string {
	cmd := exec.Command("git", "describe", "--tags", "--always", "--dirty")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "nogit"
	}
	return strings.TrimSpace(string(out))
}

// fakeSidecar accepts the sidecar's standard flags, serves /healthz and
// exits 0 on SIGTERM.
func fakeSidecar() {
	fs := flag.NewFlagSet("fake-sidecar", flag.ExitOnError)
	chassis := fs.String("chassis", "", "")
	addr := fs.String("http-addr", "", "")
	fs.String("ovs-db", "", "")
	fs.String("sb-db", "", "")
	fs.String("v", "", "")
	fs.Bool("logtostderr", false, "")
	_ = fs.Parse(os.Args[1:])
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "ok chassis=%s\n", *chassis)
	})
	go func() {
		fmt.Fprintln(os.Stderr, "fake sidecar:", http.ListenAndServe(*addr, nil))
		os.Exit(1)
	}()
	<-sigs
	fmt.Fprintln(os.Stderr, "fake sidecar: SIGTERM")
}

// TestHarnessLifecycle exercises the stack's process control with a fake
// sidecar: the HTTP forward, stop/kill/restart, SB restarts that keep its
// database, and pausing ovs-vswitchd. Not parallel: it sets env.
func TestHarnessLifecycle(t *testing.T) {
	t.Setenv(fakeSidecarEnv, "1")
	s := stack.New(t, stack.Options{SidecarBin: os.Args[0], Chassis: "dpu-7"})

	get := func() string {
		t.Helper()
		resp, err := http.Get(s.SidecarURL() + "/healthz")
		if err != nil {
			t.Fatalf("GET %s: %v", s.SidecarURL(), err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(body))
	}
	if got := get(); got != "ok chassis=dpu-7" {
		t.Fatalf("healthz = %q", got)
	}

	pid := s.Sidecar.PID()
	if err := s.Sidecar.Stop(); err != nil {
		t.Fatalf("sidecar stop: %v", err)
	}
	if s.Sidecar.Running() {
		t.Fatal("sidecar still running after Stop")
	}
	s.Sidecar.Start()
	s.Sidecar.Kill()
	if err := s.Sidecar.ExitErr(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("exit after Kill = %v", err)
	}
	s.StartSidecar()
	if s.Sidecar.PID() == pid || get() != "ok chassis=dpu-7" {
		t.Fatal("sidecar not restarted")
	}
	if !strings.Contains(s.Sidecar.Log(), "fake sidecar: SIGTERM") {
		t.Fatalf("sidecar log lacks the first run:\n%s", s.Sidecar.Log())
	}

	// The SB database survives a restart, and ovn-controller reconnects.
	s.NBCtl("--wait=sb", "ls-add", "sw0")
	s.SB.Restart()
	if got := s.SBCtl("--bare", "--columns=external_ids", "list", "Datapath_Binding"); !strings.Contains(got, "sw0") {
		t.Fatalf("Datapath_Binding after SB restart: %q", got)
	}
	s.NBCtl("--wait=hv", "--timeout=30", "ls-add", "sw1")
	// After SIGKILL the stale pidfile and socket must not stop a restart.
	s.SB.Kill()
	s.SB.Start()
	s.NBCtl("--wait=hv", "--timeout=30", "ls-add", "sw2")

	// A paused ovs-vswitchd makes a waiting ovs-vsctl wait; resuming lets it finish.
	s.Vswitchd.Pause()
	if _, err := s.VSCtlErr("--timeout=1", "add-br", "br-test", "--", "set", "Bridge", "br-test", "datapath_type=netdev"); err == nil {
		t.Fatal("ovs-vsctl finished while ovs-vswitchd was paused")
	}
	s.Vswitchd.Resume()
	s.VSCtl("--timeout=10", "--may-exist", "add-br", "br-test")
	s.Eventually(10*time.Second, "br-test tap device", func() error {
		_, err := s.Run("ip", "netns", "exec", s.NetNS, "ip", "link", "show", "br-test")
		return err
	})
	if out := s.Appctl(s.Controller, "version"); !strings.Contains(out, "ovn-controller") {
		t.Fatalf("ovn-controller appctl version = %q", out)
	}
}
