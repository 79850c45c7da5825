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

func init() { providers.Add(New()) }

// Provider is the dummy provider.
type Provider struct{}

// New returns a dummy provider.
func New() *Provider { return &Provider{} }

func (*Provider) Type() string                     { return Type }
func (*Provider) Init(providers.Env) error         { return nil }
func (*Provider) Destroy() error                   { return nil }
func (*Provider) Run(context.Context) bool         { return false }
func (*Provider) MaintainedIfaceOptions() []string { return []string{OptionKey} }

// Prepare names the interface after the logical port, truncated to 15
// bytes as OVN does, and always allows removal.
func (*Provider) Prepare(_ context.Context, in *providers.PortCtxIn, out *providers.PortCtxOut) error {
	if in.Op != providers.OpCreate {
		return nil
	}
	out.Name = IfaceName(in.LportName)
	out.Type = "internal"
	out.IfaceOptions = map[string]string{OptionKey: "value"}
	return nil
}

func (*Provider) Finish(*providers.PortCtxIn, *providers.PortCtxOut) {}

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
