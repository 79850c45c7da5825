package providers_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/dummy"
)

// ovsStored is s as ovsdb-server stores it after libovsdb's
// encoding/json, which turns invalid UTF-8 into U+FFFD.
func ovsStored(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// answerRules is the rule set, written independently of CheckAnswer: the
// reason an answer cannot be written, or "".
func answerRules(name, typ, key, val string) string {
	text := func(s string) bool { return utf8.ValidString(s) && !strings.Contains(s, "\x00") }
	switch {
	case name == "" || !text(name) || strings.Contains(name, "/"):
		return "name"
	case (typ == "" || typ == "system" || typ == "internal" || typ == "tap") && len(name) > 15:
		return "netdev name length"
	case !text(typ):
		return "type"
	case key == "" || !text(key) || !text(val):
		return "option"
	}
	return ""
}

// FuzzCheckAnswer: CheckAnswer never panics and accepts exactly the
// answers the rules allow; whatever it accepts, ovsdb-server stores byte
// for byte, so the plan finds it again as it asked. The dummy provider's
// answer for any usable logical port name is accepted.
func FuzzCheckAnswer(f *testing.F) {
	f.Add("x6abcdefghijkl\xf0", "internal", "vif-plug-dummy-option", "value")
	f.Add("x6abcdefghijkl", "internal", "vif-plug-dummy-option", "value")
	f.Add("pf0vf3", "", "k", "v")
	f.Add("a/b", "system", "k", "v")
	f.Add("a\x00b", "tap", "k", "v")
	f.Add(strings.Repeat("a", 16), "", "k", "v")
	f.Add(strings.Repeat("v", 40), "dpdkvhostuserclient", "vhost-server-path", "/run/vhu/sock0")
	f.Add("ünïcødé", "in\xfeternal", "", "v")
	f.Add("日本語ポー", "internal", "k\xff", "v\x00")
	f.Fuzz(func(t *testing.T, name, typ, key, val string) {
		out := &providers.PortCtxOut{Name: name, Type: typ, IfaceOptions: map[string]string{key: val}}
		err := providers.CheckAnswer(out)
		rule := answerRules(name, typ, key, val)
		switch {
		case err == nil && rule != "":
			t.Fatalf("CheckAnswer accepted %+v, which breaks the %s rule", out, rule)
		case err != nil && rule == "":
			t.Fatalf("CheckAnswer refused %+v, which follows the rules: %v", out, err)
		case err == nil:
			for _, s := range []string{name, typ, key, val} {
				if ovsStored(s) != s {
					t.Fatalf("CheckAnswer accepted %q, which OVS stores as %q", s, ovsStored(s))
				}
			}
		}

		// The dummy provider names the port after the logical port: for
		// any name OVN could carry (valid UTF-8, no NUL) and no '/', the
		// answer is usable and the longest such prefix of at most 15
		// bytes.
		lsp := name
		if lsp == "" || !utf8.ValidString(lsp) || strings.ContainsAny(lsp, "/\x00") {
			return
		}
		got := dummy.IfaceName(lsp)
		if err := providers.CheckAnswer(&providers.PortCtxOut{Name: got, Type: "internal"}); err != nil {
			t.Fatalf("dummy.IfaceName(%q) = %q, which CheckAnswer refuses: %v", lsp, got, err)
		}
		if !strings.HasPrefix(lsp, got) || (len(got) < len(lsp) && len(got)+utf8.RuneLen([]rune(lsp[len(got):])[0]) <= 15) {
			t.Fatalf("dummy.IfaceName(%q) = %q, want the longest prefix of whole characters of at most 15 bytes", lsp, got)
		}
	})
}
