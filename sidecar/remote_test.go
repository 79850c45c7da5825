package sidecar

import (
	"slices"
	"strings"
	"testing"
)

func TestValidateRemote(t *testing.T) {
	for _, good := range []string{"unix:/run/ovn/ovnsb_db.sock", "tcp:192.0.2.1:6642", "ssl:sb.example.net:6642", "tcp:[2001:db8::1]:6642"} {
		if err := ValidateRemote(good); err != nil {
			t.Errorf("ValidateRemote(%q) = %v, want nil", good, err)
		}
	}
	for _, bad := range []string{"/bare/path", "foo:bar", "unix:", "tcp:192.0.2.1", "tcp::6642", "ssl:h:0", "tcp:h:http", "punix:/x", ""} {
		if err := ValidateRemote(bad); err == nil {
			t.Errorf("ValidateRemote(%q) = nil, want an error", bad)
		}
	}
}

// One ssl: member without TLS flags must not block the tcp: members.
func TestUsableRemotesKeepsTheGoodMembers(t *testing.T) {
	usable, unusable, why := usableRemotes([]string{"ssl:a:6642", "tcp:b:6642", "foo:bar", "tcp:c:6642"}, false)
	if !slices.Equal(usable, []string{"tcp:b:6642", "tcp:c:6642"}) || !slices.Equal(unusable, []string{"ssl:a:6642", "foo:bar"}) {
		t.Errorf("usable %v unusable %v", usable, unusable)
	}
	if why == nil || !strings.Contains(why.Error(), "needs --private-key, --certificate and --ca-cert") {
		t.Errorf("why = %v", why)
	}
	if usable, _, _ := usableRemotes([]string{"ssl:a:6642"}, true); len(usable) != 1 {
		t.Errorf("ssl: with TLS: usable %v", usable)
	}
}
