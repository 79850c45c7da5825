package app

// The tests use the built-in providers; the package itself imports none.
import (
	_ "github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/dummy"
	_ "github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/representor"
)
