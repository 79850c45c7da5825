package providers

import (
	"strings"
	"testing"
)

func TestCheckAnswer(t *testing.T) {
	ok := []PortCtxOut{
		{Name: "pf0vf3"},
		{Name: "x6abcdefghijkl", Type: "internal", IfaceOptions: map[string]string{"k": "v"}},
		{Name: "ü23456789012345"[:14], Type: "system"},
		{Name: strings.Repeat("v", 40), Type: "dpdkvhostuserclient", IfaceOptions: map[string]string{"vhost-server-path": "/run/vhu/sock0"}},
	}
	for _, out := range ok {
		if err := CheckAnswer(&out); err != nil {
			t.Errorf("CheckAnswer(%+v) = %v, want nil", out, err)
		}
	}
	bad := map[string]PortCtxOut{
		"not valid UTF-8":    {Name: "x6abcdefghijkl\xf0", Type: "internal"},
		"empty":              {Name: ""},
		"contains '/'":       {Name: "a/b"},
		"NUL":                {Name: "a\x00b"},
		"is 16 bytes":        {Name: strings.Repeat("a", 16)},
		"tap netdev":         {Name: strings.Repeat("a", 16), Type: "tap"},
		"option key":         {Name: "a", IfaceOptions: map[string]string{"\xff": "v"}},
		"empty interface op": {Name: "a", IfaceOptions: map[string]string{"": "v"}},
		`option "k"`:         {Name: "a", IfaceOptions: map[string]string{"k": "v\x00"}},
		"interface type":     {Name: "a", Type: "in\xfeternal"},
	}
	for want, out := range bad {
		err := CheckAnswer(&out)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckAnswer(%q) = %v, want an error mentioning %q", out.Name, err, want)
		}
	}
	if CheckAnswer(nil) == nil {
		t.Error("CheckAnswer(nil) = nil")
	}
}
