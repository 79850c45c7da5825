// Command vhostuser is ovn-vif-sidecar with the vhostuser provider
// compiled in next to the built-in ones:
//
//	go build -o ovn-vif-sidecar .
package main

import (
	"os"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/cmd/ovn-vif-sidecar/app"

	_ "example.com/vhostuser/vhostuser"
)

// Stamped like the upstream binary: -ldflags "-X main.version=… -X main.revision=…".
var version, revision string

func main() {
	app.Version, app.Revision = version, revision
	os.Exit(app.Main(os.Args[1:], os.Stdout, os.Stderr))
}
