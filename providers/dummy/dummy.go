// Package dummy is OVN's dummy VIF plug provider, behaviour for behaviour:
// it plugs an internal interface named after the logical port. It exists
// for tests and for comparing the sidecar with ovn-controller's built-in
// plugging (--enable-dummy-vif-plug).
package dummy

import (
	"context"
	"unicode/utf8"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

// Type is the vif-plug-type this provider serves.
const Type = "dummy"

// OptionKey is the one Interface option the provider maintains.
const OptionKey = "vif-plug-dummy-option"

// ifNameSize is Linux IFNAMSIZ: names are at most 15 bytes plus NUL.
const ifNameSize = 16

// Factory makes dummy providers; the provider takes no configuration.
var Factory = providers.Factory{
	Type: Type,
	New:  func(providers.Config) (providers.Provider, error) { return New(), nil },
}

func init() { providers.Add(Factory) }

// Provider is the dummy provider. It needs none of the optional methods
// but CtxDestroy, which clears the answer as OVN's dummy frees it.
type Provider struct{}

// New returns a dummy provider.
func New() *Provider { return &Provider{} }

func (*Provider) Type() string                     { return Type }
func (*Provider) MaintainedIfaceOptions() []string { return []string{OptionKey} }

// Prepare names the interface after the logical port, truncated to 15
// bytes as OVN does, and always allows removal. A logical port whose name
// can never be a netdev name (empty, or with '/') is refused as invalid,
// where OVN would leave OVS an interface it cannot create.
func (*Provider) Prepare(_ context.Context, in *providers.PortCtxIn, out *providers.PortCtxOut) error {
	if in.Op != providers.OpCreate {
		return nil
	}
	ans := providers.PortCtxOut{Name: IfaceName(in.LportName), Type: "internal", IfaceOptions: map[string]string{OptionKey: "value"}}
	if err := providers.CheckAnswer(&ans); err != nil {
		return providers.Invalid("logical port %q cannot name an internal interface: %v", in.LportName, err)
	}
	*out = ans
	return nil
}

// CtxDestroy clears the answer.
func (*Provider) CtxDestroy(_ *providers.PortCtxIn, out *providers.PortCtxOut) {
	if out != nil {
		*out = providers.PortCtxOut{}
	}
}

// IfaceName is the interface name the dummy provider gives a logical port:
// its first IFNAMSIZ-1 bytes, as OVN's memcpy does, but never cut inside a
// UTF-8 character. OVN's byte-wise cut can leave invalid UTF-8, which
// OVSDB stores as U+FFFD, so the stored name never matches and every
// reconcile would plug the port again.
func IfaceName(lport string) string {
	if len(lport) < ifNameSize {
		return lport
	}
	cut := ifNameSize - 1
	for cut > 0 && !utf8.RuneStart(lport[cut]) {
		cut--
	}
	return lport[:cut]
}
