package sidecar

import (
	"sync"

	"github.com/ovn-kubernetes/libovsdb/cache"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
)

// identity tracks who the sidecar is and which Chassis row its SB monitor
// follows: the chassis name, SB remote and integration bridge (from flags,
// or from the Open_vSwitch row as ovn-controller reads them), and the
// chassis row's UUID and hostname, which the Port_Binding monitor's
// condition names. It decides; the engine acts (restarts the SB
// connection, recomputes).
type identity struct {
	mu sync.Mutex
	// fixed are the flags' values; "" means "from the Open_vSwitch row".
	fixedChassis, fixedRemote, fixedBridge string

	chassis, remote, bridge string
	// next* are the chassis row the next SB monitor will follow, and
	// monitored* the ones the current monitor was built with.
	nextUUID, nextHost           string
	monitoredUUID, monitoredHost string
}

func newIdentity(chassis, remote, bridge string) *identity {
	return &identity{fixedChassis: chassis, fixedRemote: remote, fixedBridge: bridge,
		chassis: chassis, remote: remote, bridge: bridge, nextUUID: noChassisUUID}
}

// names returns the chassis name, SB remote and integration bridge.
func (id *identity) names() (chassis, remote, bridge string) {
	id.mu.Lock()
	defer id.mu.Unlock()
	return id.chassis, id.remote, id.bridge
}

// fromOVS takes the Open_vSwitch row's external_ids and reports what
// changed: the SB connection depends on chassis and remote, the whole
// computation on the bridge.
func (id *identity) fromOVS(ext map[string]string) (changedSB, changedBridge bool) {
	id.mu.Lock()
	defer id.mu.Unlock()
	oldChassis, oldRemote, oldBridge := id.chassis, id.remote, id.bridge
	if id.fixedChassis == "" {
		id.chassis = ext["system-id"]
	}
	if id.fixedRemote == "" {
		id.remote = ext["ovn-remote"]
	}
	if id.fixedBridge == "" {
		id.bridge = ext["ovn-bridge"]
		if id.bridge == "" {
			id.bridge = DefaultBridge
		}
	}
	if oldChassis != id.chassis {
		id.nextUUID, id.nextHost = noChassisUUID, ""
	}
	return oldChassis != id.chassis || oldRemote != id.remote, oldBridge != id.bridge
}

// monitorFor returns what a new SB monitor follows, and records it as the
// monitored condition.
func (id *identity) monitorFor() (name, uuid, hostname string) {
	id.mu.Lock()
	defer id.mu.Unlock()
	id.monitoredUUID, id.monitoredHost = id.nextUUID, id.nextHost
	return id.chassis, id.nextUUID, id.nextHost
}

// unresolved returns the chassis name while the next monitor would
// follow no chassis row.
func (id *identity) unresolved() (name string, ok bool) {
	id.mu.Lock()
	defer id.mu.Unlock()
	return id.chassis, id.chassis != "" && id.nextUUID == noChassisUUID
}

// resolve makes the next monitor follow the row uuid of chassis name,
// unless the name changed or a row was found meanwhile.
func (id *identity) resolve(name, uuid, hostname string) {
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.chassis == name && id.nextUUID == noChassisUUID {
		id.nextUUID, id.nextHost = uuid, hostname
	}
}

// chassisRow finds this chassis's row in the SB cache; it has no side
// effects.
func (id *identity) chassisRow(tc *cache.TableCache) *sb.Chassis {
	id.mu.Lock()
	name := id.chassis
	id.mu.Unlock()
	return findChassis(tc, name)
}

// follow compares the chassis row with the condition the current monitor
// was built with (so that a restart request lost in a race is simply
// asked for again). It returns the row, and restart=true when the monitor
// must be rebuilt to follow it.
func (id *identity) follow(tc *cache.TableCache) (ch *sb.Chassis, restart bool) {
	ch = id.chassisRow(tc)
	if ch == nil {
		return nil, false
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	if ch.UUID != id.monitoredUUID || ch.Hostname != id.monitoredHost {
		id.nextUUID, id.nextHost = ch.UUID, ch.Hostname
		return ch, true
	}
	return ch, false
}

// followed reports whether ch is the row the current monitor follows.
func (id *identity) followed(ch *sb.Chassis) bool {
	id.mu.Lock()
	defer id.mu.Unlock()
	return ch != nil && ch.UUID == id.monitoredUUID
}

func findChassis(tc *cache.TableCache, name string) *sb.Chassis {
	for _, m := range tc.Table(sb.ChassisTable).RowsShallow() {
		if ch := m.(*sb.Chassis); ch.Name == name {
			return ch
		}
	}
	return nil
}
