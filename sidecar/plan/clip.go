package plan

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// Values from the CMS (logical port names, vif-plug-type, options) can be
// up to OVSDB's limits, megabytes. Reasons, logs, /ports and metrics echo
// at most MaxEcho bytes of one value and MaxEchoText of one reason.
const (
	MaxEcho     = 512
	MaxEchoText = 4096
)

// Clip cuts an echoed input value to MaxEcho bytes on a character
// boundary and says how much was cut.
func Clip(s string) string { return ClipTo(s, MaxEcho) }

// ClipTo is Clip with a limit of n bytes.
func ClipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…[" + strconv.Itoa(len(s)-cut) + " more bytes cut]"
}

// ErrPrepareTimeout is the refusal the engine records for a Prepare that
// missed its deadline; the plan treats it as pending.
var ErrPrepareTimeout = errors.New("provider Prepare timed out")
