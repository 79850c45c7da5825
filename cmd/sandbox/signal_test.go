package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// helperEnv makes the test binary act as a sandbox that owns one
// directory: it prints "ready", waits like the sandbox does, and removes
// the directory in its cleanup.
const helperEnv = "SANDBOX_SIGNAL_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		sigs := stopSignals()
		p := stack.NewProgram(os.Stderr)
		p.Cleanup(func() {
			// Like the stack's teardown, it writes while it cleans up.
			fmt.Println("removing", dir)
			_ = os.RemoveAll(dir)
		})
		fmt.Println("ready")
		waitAndClean(p, sigs, nil, os.Stdout)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Under `make sandbox | tee log`, Ctrl-C kills tee first: the sandbox's
// stdout is then a broken pipe when the signal arrives. Cleanup must run
// anyway, for SIGINT, SIGTERM and SIGHUP.
// testExecEnv names the emulator of a cross-built test run (the -exec of
// go test; see make unit-arm64).
const testExecEnv = "OVN_VIF_SIDECAR_TEST_EXEC"

func TestCleanupSurvivesBrokenStdout(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ovnvif-owned")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			argv := []string{os.Args[0], "-test.run=^$"}
			// A cross-built test binary (make unit-arm64) runs itself
			// under the same emulator that runs it.
			if emu := os.Getenv(testExecEnv); emu != "" {
				argv = append([]string{emu}, argv...)
			}
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Env = append(os.Environ(), helperEnv+"="+dir)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil || line != "ready\n" {
				_ = cmd.Process.Kill()
				t.Fatalf("helper said %q (%v)", line, err)
			}
			// tee is gone: every later write to stdout gets EPIPE.
			stdout.Close()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("the helper did not exit after the signal")
			}
			if err != nil {
				t.Errorf("after %v with stdout closed the helper exited with %v (a SIGPIPE death skips the cleanup)\n%s", sig, err, stderr.String())
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("after %v with stdout closed, %s is still there: the cleanup did not run", sig, dir)
			}
		})
	}
}
