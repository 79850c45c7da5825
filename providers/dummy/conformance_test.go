package dummy_test

import (
	"testing"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/dummy"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/providertest"
)

func TestConformance(t *testing.T) {
	providertest.TestProvider(t, dummy.Factory, providertest.Ports(
		providertest.Port{Name: "lsp1"},
		providertest.Port{Name: "a-very-long-logical-port-name"},
		providertest.Port{Name: "a/b", Want: providertest.Invalid},
	))
}
