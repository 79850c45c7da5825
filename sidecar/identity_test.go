package sidecar

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/memdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
)

func TestIdentityFromOVSAndFlags(t *testing.T) {
	id := newIdentity("", "", "")
	if sb, br := id.fromOVS(map[string]string{"system-id": "c1", "ovn-remote": "tcp:1"}); !sb || !br {
		t.Errorf("first read: changedSB %v changedBridge %v, want both", sb, br)
	}
	if c, r, b := id.names(); c != "c1" || r != "tcp:1" || b != DefaultBridge {
		t.Errorf("names %q %q %q", c, r, b)
	}
	if sb, br := id.fromOVS(map[string]string{"system-id": "c1", "ovn-remote": "tcp:1", "hostname": "x"}); sb || br {
		t.Error("an unrelated key changed the identity")
	}
	if _, br := id.fromOVS(map[string]string{"system-id": "c1", "ovn-remote": "tcp:1", "ovn-bridge": "br-x"}); !br {
		t.Error("ovn-bridge change not reported")
	}

	fixed := newIdentity("flag-chassis", "tcp:flag", "br-flag")
	if sb, br := fixed.fromOVS(map[string]string{"system-id": "c1", "ovn-remote": "tcp:1", "ovn-bridge": "b"}); sb || br {
		t.Error("flags were overridden by the Open_vSwitch row")
	}
}

// TestIdentityFollowsChassisRow: the SB monitor starts on the chassis row
// a select finds, or on no chassis if there is none yet, is moved onto
// the row once it is seen, and again when the row is replaced or renamed;
// the monitor's conditions name the row, the chassis name and its
// hostname.
func TestIdentityFollowsChassisRow(t *testing.T) {
	m := newMemStack(t)

	// No row yet: the first monitor follows no chassis.
	late := newIdentity("chassis-2", "", "")
	if got := pbConditions(t, (&Engine{id: late}).sbMonitor(m.sb)); !slices.Equal(got, []string{
		"requested_chassis == " + noChassisUUID, "options includes requested-chassis=chassis-2"}) {
		t.Errorf("conditions before the chassis row exists: %v", got)
	}
	res := memdb.Commit(t, m.sb, must[[]ovsdb.Operation](t)(m.sb.Create(&sb.Chassis{UUID: "c2", Name: "chassis-2", Hostname: "dpu2"}))...)
	waitFor(t, "the chassis-2 row", 5*time.Second, func() bool { return late.chassisRow(m.sb.Cache()) != nil })
	if ch, restart := late.follow(m.sb.Cache()); !restart || ch == nil || ch.UUID != res[0].UUID.GoUUID {
		t.Fatalf("follow = %v, %v: want a restart onto %s", ch, restart, res[0].UUID.GoUUID)
	} else if late.followed(ch) {
		t.Error("the old monitor counted as following the row")
	}
	if got := pbConditions(t, (&Engine{id: late}).sbMonitor(m.sb)); !slices.Equal(got, []string{
		"requested_chassis == " + res[0].UUID.GoUUID, "options includes requested-chassis=chassis-2", "options includes requested-chassis=dpu2"}) {
		t.Errorf("conditions once the chassis row is seen: %v", got)
	}

	// The row exists: the first monitor follows it, with no restart.
	id := newIdentity("chassis-1", "", "")
	e := &Engine{id: id}
	if got := pbConditions(t, e.sbMonitor(m.sb)); !slices.Equal(got, []string{
		"requested_chassis == " + m.chassisUUID, "options includes requested-chassis=chassis-1", "options includes requested-chassis=dpu1"}) {
		t.Errorf("conditions when the chassis row exists at connect: %v", got)
	}
	if ch, restart := id.follow(m.sb.Cache()); restart || !id.followed(ch) {
		t.Errorf("first monitor: follow restart=%v followed=%v", restart, id.followed(ch))
	}

	// ovn-controller replaces its row (an upgrade): a new UUID.
	memdb.Commit(t, m.sb, must[[]ovsdb.Operation](t)(m.sb.Where(&sb.Chassis{UUID: m.chassisUUID}).Delete())...)
	res = memdb.Commit(t, m.sb, must[[]ovsdb.Operation](t)(m.sb.Create(&sb.Chassis{UUID: "ch2", Name: "chassis-1", Hostname: "dpu1"}))...)
	waitForRow := func() bool { c := id.chassisRow(m.sb.Cache()); return c != nil && c.UUID == res[0].UUID.GoUUID }
	waitFor(t, "the new chassis row", 5*time.Second, waitForRow)
	if _, restart := id.follow(m.sb.Cache()); !restart {
		t.Error("a replaced chassis row did not ask for a new monitor")
	}
}

// pbConditions renders the Port_Binding monitor's conditions.
func pbConditions(t *testing.T, mon *client.Monitor) []string {
	t.Helper()
	var out []string
	for _, tm := range mon.Tables {
		if tm.Table != sb.PortBindingTable {
			continue
		}
		for _, c := range tm.Conditions {
			switch v := c.Value.(type) {
			case ovsdb.OvsMap:
				for k, val := range v.GoMap {
					out = append(out, fmt.Sprintf("%s %s %v=%v", c.Column, c.Function, k, val))
				}
			case ovsdb.UUID:
				out = append(out, fmt.Sprintf("%s %s %s", c.Column, c.Function, v.GoUUID))
			case ovsdb.OvsSet:
				for _, x := range v.GoSet {
					if u, ok := x.(ovsdb.UUID); ok {
						x = u.GoUUID
					}
					out = append(out, fmt.Sprintf("%s %s %v", c.Column, c.Function, x))
				}
			default:
				out = append(out, fmt.Sprintf("%s %s %v", c.Column, c.Function, v))
			}
		}
	}
	return out
}
