package app

// The built-in providers, compiled into every binary built from this
// package. A vendor's main package adds its own with a blank import.
import (
	_ "github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/dummy"
	_ "github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/representor"
)
