// Package logs has the sidecar's warning-severity structured log call,
// which klog lacks.
package logs

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/klog/v2"
)

// WarnS logs at warning severity (klog's "W" lines) in the same
// msg key="value" form as klog.InfoS, which has no warning variant.
// Conditions an operator must act on that are not errors of the sidecar
// itself go here: conflicts, refusals, invalid requests, lost
// connections.
func WarnS(msg string, keysAndValues ...any) {
	klog.WarningDepth(1, formatKVs(msg, keysAndValues...))
}

func formatKVs(msg string, keysAndValues ...any) string {
	var b strings.Builder
	b.WriteString(strconv.Quote(msg))
	for i := 0; i < len(keysAndValues); i += 2 {
		var v any = "(MISSING)"
		if i+1 < len(keysAndValues) {
			v = keysAndValues[i+1]
		}
		fmt.Fprintf(&b, " %v=", keysAndValues[i])
		switch x := v.(type) {
		case string:
			b.WriteString(strconv.Quote(x))
		case error:
			b.WriteString(strconv.Quote(x.Error()))
		case fmt.Stringer:
			b.WriteString(strconv.Quote(x.String()))
		case []string:
			b.WriteString(strconv.Quote(strings.Join(x, ",")))
		default:
			fmt.Fprint(&b, x)
		}
	}
	return b.String()
}
