package main

// The providers compiled into this binary. Add a vendor's provider here.
import (
	_ "github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/dummy"
	_ "github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/representor"
)
