package sidecar

import (
	"fmt"
	"sync"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// foreignWrites owns the notes of changes to plugged interfaces that were
// not the sidecar's own writes. With two plugging agents on one chassis
// (typically ovn-controller's own VIF plugging left on after a migration)
// both write the same rows; when they agree nothing else shows it, so the
// port's status and a warning say so for foreignNoteFor after each such
// change. A loop between agents that disagree is the convergence guard's.
type foreignWrites struct {
	mu    sync.Mutex
	byKey map[string]foreignWrite
}

type foreignWrite struct {
	iface, what string // what: "changed" or "deleted"
	at          time.Time
	told        bool // the warning for it was logged
}

// foreignNoteFor is how long a port's status keeps the note.
const foreignNoteFor = time.Hour

func newForeignWrites() *foreignWrites {
	return &foreignWrites{byKey: map[string]foreignWrite{}}
}

// note records a change of row, on the OVS event goroutine.
func (f *foreignWrites) note(row *vswitch.Interface, what string, now time.Time) {
	f.mu.Lock()
	f.byKey[row.ExternalIDs[plan.ExtIfaceID]] = foreignWrite{iface: row.Name, what: what, at: now}
	f.mu.Unlock()
}

// recent returns key's note if it is younger than foreignNoteFor, and
// forgets an older one; first is true the first time a note is returned.
func (f *foreignWrites) recent(key string, now time.Time) (w foreignWrite, first, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, ok = f.byKey[key]
	if ok && now.Sub(w.at) >= foreignNoteFor {
		delete(f.byKey, key)
		return w, false, false
	}
	if ok && !w.told {
		first = true
		f.byKey[key] = foreignWrite{iface: w.iface, what: w.what, at: w.at, told: true}
	}
	return w, first, ok
}

// forget drops key's note: the port is gone.
func (f *foreignWrites) forget(key string) {
	f.mu.Lock()
	delete(f.byKey, key)
	f.mu.Unlock()
}

func (w foreignWrite) reason() string {
	return fmt.Sprintf("another agent %s interface %s at %s, not this sidecar: is ovn-controller's own VIF plugging (--enable-dummy-vif-plug, an OVN built with ovn-vif) still on, or did someone edit it by hand? Only one agent may plug a port (see docs/migration.md)",
		w.what, w.iface, w.at.UTC().Format(time.RFC3339))
}
