package mdanchor

import "testing"

func TestSlug(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Southbound over SSL, mutual TLS, clustered", "southbound-over-ssl-mutual-tls-clustered"},
		{"`unplug-blocked`", "unplug-blocked"},
		{"HTTP endpoints and the status command", "http-endpoints-and-the-status-command"},
		{"Exit codes: 0, 1 and 2", "exit-codes-0-1-and-2"},
		{"Kubernetes: the DaemonSets", "kubernetes-the-daemonsets"},
		{"snake_case and A/B (ratio)", "snake_case-and-ab-ratio"},
		{"Plug → plugged", "plug--plugged"},
	} {
		if got := Slug(c.in); got != c.want {
			t.Errorf("Slug(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
