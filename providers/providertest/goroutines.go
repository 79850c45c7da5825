package providertest

import (
	"bytes"
	"runtime"
	"strings"
)

// goroutine is one entry of a full stack dump.
type goroutine struct {
	id    string
	stack string
}

// goroutines returns the live goroutines except the caller's and the
// kit's own (a call the kit abandoned after its deadline is reported as
// such, not as a leak).
func goroutines() map[string]goroutine {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]goroutine{}
	for i, block := range bytes.Split(buf, []byte("\n\n")) {
		s := string(block)
		head, _, _ := strings.Cut(s, "\n")
		id, _, ok := strings.Cut(strings.TrimPrefix(head, "goroutine "), " ")
		if !ok || i == 0 { // the first is the caller
			continue
		}
		if createdBy(s, "/providers/providertest.") {
			continue
		}
		out[id] = goroutine{id: id, stack: s}
	}
	return out
}

func createdBy(stack, pkg string) bool {
	i := strings.LastIndex(stack, "\ncreated by ")
	if i < 0 {
		return false
	}
	line, _, _ := strings.Cut(stack[i+1:], "\n")
	return strings.Contains(line, pkg)
}

// leaked returns the goroutines of now that were not in before.
func leaked(before, now map[string]goroutine) []goroutine {
	var out []goroutine
	for id, g := range now {
		if _, ok := before[id]; !ok {
			out = append(out, g)
		}
	}
	return out
}
