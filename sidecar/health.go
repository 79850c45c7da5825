package sidecar

import (
	"errors"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/dbconn"
)

// Health is the daemon's own state: what /readyz decides on, what GET
// /health returns, and the header of the status command.
type Health struct {
	OVS          DBHealth `json:"ovs"`
	SB           DBHealth `json:"sb"`
	Chassis      string   `json:"chassis"`
	ChassisFound bool     `json:"chassis_found"`
	Bridge       string   `json:"bridge"`
	BridgeFound  bool     `json:"bridge_found"`
	Primed       bool     `json:"primed"`
	// Ready is Primed with the integration bridge present.
	Ready bool `json:"ready"`
	// Reasons say why it is not ready, one line each.
	Reasons []string `json:"reasons"`
	// Providers are the enabled providers, up or why not; a provider
	// that is down does not make the daemon unready.
	Providers []ProviderHealth `json:"providers"`
}

// ProviderHealth is one enabled provider's state.
type ProviderHealth struct {
	Type  string `json:"type"`
	Up    bool   `json:"up"`
	Error string `json:"error,omitempty"`
}

// DBHealth is one database connection's state.
type DBHealth struct {
	Connected bool   `json:"connected"`
	LastError string `json:"last_error,omitempty"`
	// Schema is the server's schema name and version, last seen.
	Schema string `json:"schema,omitempty"`
	// Unsupported says why the server's schema is refused (too old).
	Unsupported string `json:"unsupported,omitempty"`
}

// The oldest releases whose schemas hold the slim models' columns.
const (
	FloorOVN = "OVN 22.03"
	FloorOVS = "Open vSwitch 2.17"
)

// Health computes the daemon's state now, from the live caches.
func (e *Engine) Health() Health {
	chassis, _, bridge := e.id.names()
	h := Health{Chassis: chassis, Bridge: bridge, Reasons: []string{}}
	h.Providers = []ProviderHealth{}
	for _, s := range e.reg.Status(nil) {
		ph := ProviderHealth{Type: s.Type, Up: s.Up}
		if s.Err != nil {
			ph.Error = s.Err.Error()
		}
		h.Providers = append(h.Providers, ph)
	}
	h.OVS = dbHealth(e.ovs)
	h.SB = dbHealth(e.sb)
	h.Primed = e.Primed()
	for _, db := range []struct {
		name string
		h    DBHealth
	}{{"ovs", h.OVS}, {"sb", h.SB}} {
		if !db.h.Connected {
			r := db.name + " database not connected"
			if db.h.Unsupported != "" {
				r = db.name + " database not supported: " + db.h.Unsupported
			} else if db.h.LastError != "" {
				r += ": " + db.h.LastError
			}
			h.Reasons = append(h.Reasons, r)
		}
	}
	if tc := e.ovs.Cache(); tc != nil {
		for _, m := range tc.Table(vswitch.BridgeTable).RowsShallow() {
			if m.(*vswitch.Bridge).Name == h.Bridge {
				h.BridgeFound = true
			}
		}
		if !h.BridgeFound {
			h.Reasons = append(h.Reasons, "integration bridge "+h.Bridge+" does not exist")
		}
		if h.Chassis == "" {
			h.Reasons = append(h.Reasons, "no chassis name: set --chassis or Open_vSwitch external_ids:system-id")
		}
	}
	if tc := e.sb.Cache(); tc != nil && h.Chassis != "" {
		h.ChassisFound = findChassis(tc, h.Chassis) != nil
		if !h.ChassisFound {
			h.Reasons = append(h.Reasons, "Chassis row "+h.Chassis+" missing in the Southbound database (ovn-controller creates it)")
		}
	}
	h.Ready = h.Primed && h.BridgeFound
	if !h.Ready && len(h.Reasons) == 0 {
		h.Reasons = append(h.Reasons, "waiting for the databases' initial dump since the last (re)connect")
	}
	return h
}

func dbHealth(c *dbconn.Conn) DBHealth {
	h := DBHealth{Connected: c.Synced(), Schema: c.Schema().String()}
	if err := c.LastError(); err != nil && !h.Connected && !errors.Is(err, dbconn.ErrRestart) {
		h.LastError = err.Error()
		var schemaErr *dbconn.SchemaError
		if errors.As(err, &schemaErr) {
			h.Unsupported = schemaErr.Error()
		}
	}
	return h
}
