package hwdb

import (
	"cmp"
	"fmt"
	"slices"
)

// PFLocation names a host PF by where its representors live rather than
// by its MAC: the ECPF (the DPU-side PCI function its representors hang
// off), the controller (host) number and the PF number. It is what
// doca_caps reports for a VUID.
type PFLocation struct {
	ECPF       string
	Controller uint32
	PF         uint16
}

func (l PFLocation) String() string {
	return fmt.Sprintf("ECPF %s controller %d pf %d", l.ECPF, l.Controller, l.PF)
}

// LookupPFAt returns the representor of the host PF at loc.
//
// Controller rule: an exact controller match wins. Without one, if the
// ECPF has exactly one host PF with that PF number, that one is used:
// without devlink a single-host card's names ("pf0vf3") carry no
// controller, while the host's is 1. Anything else fails with
// ErrUnknownPF.
func (db *DB) LookupPFAt(loc PFLocation) (Port, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	key, err := db.st.resolveAt(loc)
	if err != nil {
		return Port{}, err
	}
	return db.st.ports[db.st.pfs[key]], nil
}

// LookupVFAt returns the representor of VF vf of the host PF at loc.
func (db *DB) LookupVFAt(loc PFLocation, vf uint16) (Port, error) {
	return db.lookupFnAt(loc, uint32(vf), false)
}

// LookupSFAt returns the representor of SF sf of the host PF at loc.
func (db *DB) LookupSFAt(loc PFLocation, sf uint32) (Port, error) {
	return db.lookupFnAt(loc, sf, true)
}

func (db *DB) lookupFnAt(loc PFLocation, num uint32, sf bool) (Port, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	key, err := db.st.resolveAt(loc)
	if err != nil {
		return Port{}, err
	}
	return db.st.function(key, num, sf)
}

// function returns the VF or SF representor num of the host PF key.
func (st *state) function(key pfKey, num uint32, sf bool) (Port, error) {
	m, kind := st.vfs, "VF"
	if sf {
		m, kind = st.sfs, "SF"
	}
	idx, ok := m[fnKey{key, num}]
	if !ok {
		pf := st.ports[st.pfs[key]]
		return Port{}, fmt.Errorf("%w: host PF %s (%s) has no %s %d representor", ErrNoFunction, pf.HostPFMAC, describePF(pf), kind, num)
	}
	return st.ports[idx], nil
}

func (st *state) resolveAt(loc PFLocation) (pfKey, error) {
	group, ok := st.ecpfGroup[loc.ECPF]
	if !ok {
		return pfKey{}, fmt.Errorf("%w: no switchdev port hangs off %s", ErrUnknownPF, loc)
	}
	exact := pfKey{group, loc.Controller, loc.PF}
	if _, ok := st.pfs[exact]; ok {
		return exact, nil
	}
	var same []pfKey
	for k := range st.pfs {
		if k.group == group && k.pf == loc.PF {
			same = append(same, k)
		}
	}
	if len(same) == 1 {
		return same[0], nil
	}
	if len(same) == 0 {
		return pfKey{}, fmt.Errorf("%w: no host PF representor at %s", ErrUnknownPF, loc)
	}
	slices.SortFunc(same, func(a, b pfKey) int { return cmp.Compare(a.ctrl, b.ctrl) })
	return pfKey{}, fmt.Errorf("%w: no host PF representor at %s; that ECPF has pf %d on %s", ErrUnknownPF, loc, loc.PF, st.describeKeys(same))
}
