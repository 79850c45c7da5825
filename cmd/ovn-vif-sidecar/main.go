// Command ovn-vif-sidecar plugs VIFs requested through OVN Port_Binding
// options into the local OVS integration bridge, beside ovn-controller.
// The command itself is package app, which compiles in no provider: this
// main package chooses them, as a vendor's does (docs/providers.md).
//
// The version is stamped into package app (make build):
//
//	-ldflags "-X github.com/ovn-vif-sidecar/ovn-vif-sidecar/cmd/ovn-vif-sidecar/app.Version=$(git describe --tags --always --dirty)
//	          -X github.com/ovn-vif-sidecar/ovn-vif-sidecar/cmd/ovn-vif-sidecar/app.Revision=$(git rev-parse HEAD)"
package main

import (
	"os"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/cmd/ovn-vif-sidecar/app"

	// The built-in providers.
	_ "github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/dummy"
	_ "github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/representor"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.Stdout, os.Stderr))
}
