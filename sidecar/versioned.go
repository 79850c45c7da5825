package sidecar

// versioned is a map that a pass can pin: while pinned, the first write
// to a key saves the value it replaces, so reads through the pin see the
// map as it was when pinned while handlers keep writing. A pin costs
// nothing up front, and each write while pinned one lookup: no copy of
// the map per pass. Values are never modified in place (a slice value is
// replaced, not appended to), so a saved value stays what it was.
//
// versioned has no lock of its own: the index that holds it serialises
// writes and reads.
type versioned[V any] struct {
	cur    map[string]V
	pinned bool
	// prior holds the pinned values of keys written since the pin
	// (allocated on the first such write).
	prior map[string]priorValue[V]
}

type priorValue[V any] struct {
	v  V
	ok bool
}

func newVersioned[V any]() versioned[V] { return versioned[V]{cur: map[string]V{}} }

// get reads the current value.
func (m *versioned[V]) get(k string) (V, bool) {
	v, ok := m.cur[k]
	return v, ok
}

// at reads the pinned value when pinned, else the current one.
func (m *versioned[V]) at(k string) (V, bool) {
	if p, saved := m.prior[k]; saved {
		return p.v, p.ok
	}
	v, ok := m.cur[k]
	return v, ok
}

func (m *versioned[V]) save(k string) {
	if !m.pinned {
		return
	}
	if m.prior == nil {
		m.prior = map[string]priorValue[V]{}
	}
	if _, saved := m.prior[k]; !saved {
		v, ok := m.cur[k]
		m.prior[k] = priorValue[V]{v, ok}
	}
}

func (m *versioned[V]) set(k string, v V) {
	m.save(k)
	m.cur[k] = v
}

func (m *versioned[V]) del(k string) {
	if _, ok := m.cur[k]; !ok {
		return
	}
	m.save(k)
	delete(m.cur, k)
}

func (m *versioned[V]) pin() { m.pinned = true }

func (m *versioned[V]) unpin() { m.pinned, m.prior = false, nil }

// each calls f with every pinned (or, unpinned, current) entry.
func (m *versioned[V]) each(f func(k string, v V)) {
	for k, v := range m.cur {
		if _, saved := m.prior[k]; !saved {
			f(k, v)
		}
	}
	for k, p := range m.prior {
		if p.ok {
			f(k, p.v)
		}
	}
}

func (m *versioned[V]) len() int { return len(m.cur) }
