package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/cmd/ovn-vif-sidecar/app"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

// This binary carries the built-in providers and the vendor's, and its
// flags reach the vendor's provider.
func TestCompiledIn(t *testing.T) {
	if got := providers.Compiled(); !slices.Equal(got, []string{"dummy", "representor", "vhostuser"}) {
		t.Fatalf("compiled in: %v", got)
	}
	var stdout, stderr bytes.Buffer
	if code := app.Main([]string{"--help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "-provider.vhostuser.socket-dir") {
		t.Fatalf("--help (exit %d) does not list the vendor's option:\n%s", code, stdout.String())
	}
	stdout.Reset()
	if code := app.Main([]string{"--provider.vhostuser.socket-dir=relative"}, &stdout, &stderr); code != 2 ||
		!strings.HasPrefix(stderr.String(), `ovn-vif-sidecar: --provider.vhostuser.socket-dir="relative": want an absolute, clean path`) {
		t.Fatalf("a bad vendor option: exit %d, %q", code, stderr.String())
	}
}
