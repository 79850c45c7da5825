package sidecar

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/memdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/sb"
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

// TestIdentityFollowsChassisRow: the SB monitor starts on no chassis, is
// moved onto the row once it is seen, and again when the row is replaced
// or renamed; the monitor's conditions name the row, the chassis name
// and its hostname.
func TestIdentityFollowsChassisRow(t *testing.T) {
	m := newMemStack(t)
	id := newIdentity("chassis-1", "", "")
	e := &Engine{id: id}
	mon := func() *client.Monitor { return e.sbMonitor(m.sb) }

	first := mon()
	if got := pbConditions(t, first); !slices.Equal(got, []string{
		"requested_chassis == " + noChassisUUID, "options includes requested-chassis=chassis-1"}) {
		t.Errorf("conditions before the chassis is known: %v", got)
	}
	ch, restart := id.follow(m.sb.Cache())
	if !restart || ch == nil || ch.UUID != m.chassisUUID {
		t.Fatalf("follow = %v, %v: want a restart onto %s", ch, restart, m.chassisUUID)
	}
	if id.followed(ch) {
		t.Error("the old monitor counted as following the row")
	}
	second := mon()
	if got := pbConditions(t, second); !slices.Equal(got, []string{
		"requested_chassis == " + m.chassisUUID, "options includes requested-chassis=chassis-1", "options includes requested-chassis=dpu1"}) {
		t.Errorf("conditions once the chassis is known: %v", got)
	}
	if ch, restart := id.follow(m.sb.Cache()); restart || !id.followed(ch) {
		t.Errorf("after the restart: follow restart=%v followed=%v", restart, id.followed(ch))
	}

	// ovn-controller replaces its row (an upgrade): a new UUID.
	memdb.Commit(t, m.sb, must[[]ovsdb.Operation](t)(m.sb.Where(&sb.Chassis{UUID: m.chassisUUID}).Delete())...)
	res := memdb.Commit(t, m.sb, must[[]ovsdb.Operation](t)(m.sb.Create(&sb.Chassis{UUID: "ch2", Name: "chassis-1", Hostname: "dpu1"}))...)
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
