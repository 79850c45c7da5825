package sidecar

import (
	"strconv"
	"unicode/utf8"
)

// Values from the CMS (logical port names, vif-plug-type, options) can be
// up to OVSDB's limits, megabytes. Logs, /ports and metrics echo at most
// this much of one value, and at most maxEchoText of one reason.
const (
	maxEcho     = 512
	maxEchoText = 4096
)

// clip cuts an echoed input value to maxEcho bytes on a character
// boundary and says how much was cut.
func clip(s string) string { return clipTo(s, maxEcho) }

func clipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…[" + strconv.Itoa(len(s)-cut) + " more bytes cut]"
}

// clipOutcome bounds every text an outcome carries to the status and logs.
func clipOutcome(o Outcome) Outcome {
	o.LogicalPort = clip(o.LogicalPort)
	o.Provider = clip(o.Provider)
	o.Interface = clip(o.Interface)
	o.Reason = clipTo(o.Reason, maxEchoText)
	return o
}
