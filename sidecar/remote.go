package sidecar

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// This file owns the checks of OVSDB remote strings.

// ValidateRemote checks one OVSDB remote the way the sidecar can use it:
// unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT (IPv6 hosts in brackets).
func ValidateRemote(r string) error {
	scheme, rest, ok := strings.Cut(r, ":")
	if !ok {
		return fmt.Errorf("remote %q: want unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT", r)
	}
	switch scheme {
	case "unix":
		if rest == "" {
			return fmt.Errorf("remote %q: unix: needs a socket path", r)
		}
		return nil
	case "tcp", "ssl":
		host, port, err := net.SplitHostPort(rest)
		if err != nil || host == "" {
			return fmt.Errorf("remote %q: %s: needs HOST:PORT", r, scheme)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("remote %q: port %q is not a number from 1 to 65535", r, port)
		}
		return nil
	}
	return fmt.Errorf("remote %q: unknown method %q; want unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT", r, scheme)
}

// SplitRemotes splits a remote list, which like ovn-controller's
// ovn-remote may separate remotes with commas or spaces.
func SplitRemotes(s string) []string { return splitRemotes(s) }

// usableRemotes keeps the remotes that can be tried: well-formed, and
// ssl: only with TLS configured. The others are returned with the reason,
// so that one unusable member never blocks the working ones.
func usableRemotes(eps []string, haveTLS bool) (usable, unusable []string, why error) {
	for _, ep := range eps {
		err := ValidateRemote(ep)
		if err == nil && strings.HasPrefix(ep, "ssl:") && !haveTLS {
			err = fmt.Errorf("SB remote %s needs --private-key, --certificate and --ca-cert", ep)
		}
		if err != nil {
			unusable = append(unusable, ep)
			if why == nil {
				why = err
			}
			continue
		}
		usable = append(usable, ep)
	}
	return usable, unusable, why
}
