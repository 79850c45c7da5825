package dpusim

import (
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"

	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	netnsDir = "/run/netns"
	// vmNetNSPrefix starts every VM namespace name: ovnvifvm-<pid>-<seq>-<vm>.
	// The pid is the owner's; a later New deletes the namespaces of owners
	// that are gone. ("ovnvif-" is internal/stack's, which sweeps its own.)
	vmNetNSPrefix = "ovnvifvm-"
	// tempPrefix names the sysfs trees New makes when Options.Dir is "".
	tempPrefix = "ovnvifdpu-"
	ownerFile  = "owner.pid"
	cmdTimeout = 30 * time.Second
)

// run runs a command and returns its trimmed stdout.
func run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %v", cmdTimeout)
		}
		return stdout.String(), fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// ip runs "ip -n ns args..." ("ip args..." when ns is empty).
func ip(ns string, args ...string) (string, error) {
	argv := []string{"ip"}
	if ns != "" {
		argv = append(argv, "-n", ns)
	}
	return run(append(argv, args...)...)
}

func netnsExists(name string) bool {
	_, err := os.Stat(filepath.Join(netnsDir, name))
	return err == nil
}

// sweepStale deletes VM namespaces and temporary trees whose owner
// process is gone (a test binary or sandbox that was killed).
func sweepStale() {
	stack.SweepOwned(vmNetNSPrefix, filepath.Join(os.TempDir(), tempPrefix+"*", ownerFile))
}
