package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

// The daemon carries exactly the built-in providers its imports name.
func TestCompiledIn(t *testing.T) {
	if got := providers.Compiled(); !slices.Equal(got, []string{"dummy", "representor"}) {
		t.Fatalf("compiled in: %v", got)
	}
}

// Package app compiles in no provider, so that a vendor's main decides
// which ones its binary holds.
func TestAppImportsNoProvider(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found in PATH: %v", err)
	}
	out, err := exec.Command(goCmd, "list", "-deps", "./app").Output()
	if err != nil {
		t.Fatalf("go list -deps ./app: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers") {
		t.Fatalf("go list -deps ./app lists no providers package: %v", deps)
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/") {
			t.Errorf("package app depends on provider package %s", d)
		}
	}
}
