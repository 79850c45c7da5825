// Command ovn-vif-sidecar plugs VIFs requested through OVN Port_Binding
// options into the local OVS integration bridge, beside ovn-controller.
// The command itself is package app, so that a vendor can build it with
// another provider compiled in.
package main

import (
	"os"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/cmd/ovn-vif-sidecar/app"
)

// version and revision are set at build time (make build):
// -ldflags "-X main.version=$(git describe --tags --always --dirty) -X main.revision=$(git rev-parse HEAD)".
var (
	version  = ""
	revision = ""
)

func main() {
	app.Version, app.Revision = version, revision
	os.Exit(app.Main(os.Args[1:], os.Stdout, os.Stderr))
}
