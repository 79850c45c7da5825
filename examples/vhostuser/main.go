// Command vhostuser is ovn-vif-sidecar with the vhostuser provider
// compiled in next to the built-in ones; drop an import to leave one out:
//
//	go build -ldflags "-X github.com/ovn-vif-sidecar/ovn-vif-sidecar/cmd/ovn-vif-sidecar/app.Version=v1.0.0" -o ovn-vif-sidecar .
package main

import (
	"os"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/cmd/ovn-vif-sidecar/app"

	_ "github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/dummy"
	_ "github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/representor"

	_ "example.com/vhostuser/vhostuser"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.Stdout, os.Stderr))
}
