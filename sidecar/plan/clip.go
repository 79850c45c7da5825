package plan

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// Values from the CMS (logical port names, vif-plug-type, options) can be
// up to OVSDB's limits, megabytes. Reasons, logs, /ports and metrics show
// at most MaxValueLen bytes of one value and MaxReasonLen of one reason.
const (
	MaxValueLen  = 512
	MaxReasonLen = 4096
)

// Clip cuts an input value shown in a reason or log to MaxValueLen bytes on a character
// boundary and says how much was cut.
func Clip(s string) string { return ClipTo(s, MaxValueLen) }

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
