package providers

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxNetdevName is the longest name a Linux network device can have:
// IFNAMSIZ (16) less the terminating NUL.
const MaxNetdevName = 15

// netdevTypes are Interface types whose name is a kernel network device
// name, and so limited to MaxNetdevName bytes.
var netdevTypes = map[string]bool{"": true, "system": true, "internal": true, "tap": true}

// CheckAnswer reports why a Prepare(OpCreate) answer cannot be written to
// OVS as it is, or nil when it can. OVSDB stores only valid UTF-8 (an
// invalid byte would come back as U+FFFD and never match again), and the
// kernel refuses netdev names that are too long or contain '/' or NUL.
func CheckAnswer(out *PortCtxOut) error {
	if out == nil {
		return fmt.Errorf("no answer")
	}
	if err := checkText("interface name", out.Name); err != nil {
		return err
	}
	switch {
	case out.Name == "":
		return fmt.Errorf("empty interface name")
	case strings.ContainsRune(out.Name, '/'):
		return fmt.Errorf("interface name %q contains '/'", out.Name)
	case netdevTypes[out.Type] && len(out.Name) > MaxNetdevName:
		return fmt.Errorf("interface name %q is %d bytes; a %s netdev name is at most %d", out.Name, len(out.Name), typeLabel(out.Type), MaxNetdevName)
	}
	if err := checkText("interface type", out.Type); err != nil {
		return err
	}
	for k, v := range out.IfaceOptions {
		if k == "" {
			return fmt.Errorf("empty interface option key")
		}
		if err := checkText("interface option key", k); err != nil {
			return err
		}
		if err := checkText(fmt.Sprintf("interface option %q", k), v); err != nil {
			return err
		}
	}
	return nil
}

func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8", what, s)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%s %q contains a NUL byte", what, s)
	}
	return nil
}

func typeLabel(t string) string {
	if t == "" {
		return "system"
	}
	return t
}
