package plan

import (
	"strconv"
	"strings"
)

// Option keys a CMS sets on a logical switch port; northd copies them to
// the Port_Binding.
const (
	OptPlugType         = "vif-plug-type"
	OptMTURequest       = "vif-plug-mtu-request"
	OptRequestedChassis = "requested-chassis"

	ExtIfaceID    = "iface-id"
	ExtOvnPlugged = "ovn-plugged"
)

// Binding is the part of a Southbound Port_Binding the sidecar reads.
type Binding struct {
	LogicalPort string
	Type        string
	ParentPort  string
	// RequestedChassis is the UUID of the requested chassis row, or "".
	RequestedChassis string
	Options          map[string]string
}

// Desired is what one considered binding asks for.
type Desired struct {
	LogicalPort string
	// PlugType is the vif-plug-type; "" means the port is not to be plugged.
	PlugType string
	// MTURequest is the requested MTU, 0 for none.
	MTURequest int
	Options    map[string]string
}

// ConsiderBinding applies OVN's rules for which bindings this chassis plugs:
// requested_chassis must be ours, the type empty (a VIF) and parent_port
// empty (not a container port). It returns false for anything else.
func ConsiderBinding(b Binding, chassisUUID string) (Desired, bool) {
	if chassisUUID == "" || b.RequestedChassis != chassisUUID || b.Type != "" || b.ParentPort != "" {
		return Desired{}, false
	}
	return Desired{
		LogicalPort: b.LogicalPort,
		PlugType:    strings.TrimSpace(b.Options[OptPlugType]),
		MTURequest:  ParseMTURequest(b.Options[OptMTURequest]),
		Options:     b.Options,
	}, true
}

// ParseMTURequest returns the requested MTU, or 0 when the value is absent,
// not an integer, or not positive; 0 means "no mtu_request".
func ParseMTURequest(v string) int {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil || n <= 0 {
		return 0
	}
	return int(n)
}

// AwaitingResolution reports a VIF binding whose options:requested-chassis
// names this chassis (by name or hostname) while requested_chassis does not
// point at its row yet. That happens while ovn-northd catches up, and when
// ovn-controller exits and deletes its Chassis row (which clears
// requested_chassis in the same transaction) and creates a new one. Such a
// port is neither plugged nor unplugged until northd resolves it.
func AwaitingResolution(b Binding, chassisUUID, chassisName, hostname string) bool {
	if b.Type != "" || b.ParentPort != "" || (chassisUUID != "" && b.RequestedChassis == chassisUUID) {
		return false
	}
	// The first entry is the requested chassis; the rest are additional.
	first, _, _ := strings.Cut(b.Options[OptRequestedChassis], ",")
	first = strings.TrimSpace(first)
	return first != "" && (first == chassisName || (hostname != "" && first == hostname))
}
