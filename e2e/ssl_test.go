//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// TestSSL connects the sidecar to an SB ovsdb-server that listens on
// pssl (mutual TLS, as OVN deploys it) with certificates made by the
// test: a CA that did not sign the server's certificate is refused with a
// clear error, a client certificate the server's CA did not sign is
// rejected by the server, and in both cases the sidecar stays up, not
// ready, and plugs nothing; the right files plug and unplug.
func TestSSL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ovnCA := stack.NewCA(t, dir, "ovn-ca")
	rogueCA := stack.NewCA(t, dir, "rogue-ca")
	server := ovnCA.Issue(t, "sb-server") // its CACert checks client certificates
	good := ovnCA.Issue(t, "ch1")
	rogue := rogueCA.Issue(t, "ch1") // the same name from another CA
	// An impostor CA has the OVN CA's name but not its key: Go's TLS
	// client does send a certificate whose issuer name the server asks
	// for, so the server itself must catch the bad signature.
	impostorCA := stack.NewCA(t, t.TempDir(), "ovn-ca")
	impostor := impostorCA.Issue(t, "ch1")

	s := stack.New(t, stack.Options{ManualSidecar: true, SBSSL: &server})
	remote := s.SBSSLRemote()
	if !strings.HasPrefix(remote, "ssl:127.0.0.1:") || strings.Contains(remote, ",") {
		t.Fatalf("SBSSLRemote = %q, want one ssl:127.0.0.1:<port>", remote)
	}
	// Requested before any sidecar runs: only a sidecar that really
	// reads the SB database can plug it.
	addDummyLSP(s, "ssl-a", 0)

	start := func(files stack.SSLFiles) {
		t.Helper()
		s.StartSidecar(append([]string{"--sb-db=" + remote}, files.Args()...)...)
	}
	// refused checks a sidecar that cannot use the SB database: it runs,
	// is healthy but not ready, reports SB disconnected, and plugs nothing.
	refused := func(t *testing.T) {
		t.Helper()
		if !s.Sidecar.Running() {
			t.Fatalf("the sidecar exited: %v", s.Sidecar.ExitErr())
		}
		if code, body := opMustGet(t, s, "/healthz"); code != http.StatusOK {
			t.Errorf("/healthz = %d %q, want 200", code, body)
		}
		if code, body := opReadyz(s); code != http.StatusServiceUnavailable || !strings.Contains(body, "sb_connected=false") {
			t.Errorf("/readyz = %d %q, want 503 with sb_connected=false", code, body)
		}
		// The OVS connection may still be coming up; the SB one never does.
		s.Eventually(plugTimeout, "db_connected ovs 1, sb 0", func() error {
			m := opScrape(t, s)
			if err := m.check(opEq(0), "0", "ovn_vif_sidecar_db_connected", "db", "sb"); err != nil {
				return err
			}
			return m.check(opEq(1), "1", "ovn_vif_sidecar_db_connected", "db", "ovs")
		})
		if _, ok := s.Interface("ssl-a"); ok {
			t.Error("ssl-a was plugged without a usable SB connection")
		}
		if ports := opPorts(t, s); len(ports) != 0 {
			t.Errorf("GET /ports = %v, want nothing without an SB connection", ports)
		}
	}
	// failures waits for n more "connection failed" log lines for db=sb
	// than there were before the current start.
	failures := func(before, n int) {
		t.Helper()
		s.Eventually(plugTimeout, fmt.Sprintf("%d failed SB connection attempts", n), func() error {
			if got := opLogCount(s, "OVSDB connection failed; retrying", `db="sb"`) - before; got < n {
				return fmt.Errorf("%d so far", got)
			}
			return nil
		})
	}

	t.Run("wrong-ca", func(t *testing.T) {
		// The sidecar's own key pair is fine; its --ca-cert did not sign
		// the server's certificate.
		files := good
		files.CACert = rogueCA.CertFile
		before := opLogCount(s, "OVSDB connection failed; retrying", `db="sb"`)
		start(files)
		failures(before, 2)
		want := "SB server certificate not signed by --ca-cert " + rogueCA.CertFile
		if lines := opLogLines(s, want); len(lines) == 0 {
			t.Errorf("the log never says %q; connection failures logged:\n%s", want,
				strings.Join(opLogLines(s, "OVSDB connection failed"), "\n"))
		} else {
			t.Logf("the sidecar logs: %s", lines[0])
		}
		refused(t)
		if err := s.Sidecar.Stop(); err != nil {
			t.Errorf("sidecar on SIGTERM: %v", err)
		}
	})

	// The sidecar trusts the server, but the server does not trust the
	// sidecar's certificate.
	for _, tc := range []struct {
		name  string
		files stack.SSLFiles
	}{
		{"client-cert-from-another-ca", rogue},
		{"client-cert-from-impostor-ca", impostor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := tc.files
			files.CACert = ovnCA.CertFile
			before := opLogCount(s, "OVSDB connection failed; retrying", `db="sb"`)
			serverBefore := strings.Count(s.SB.Log(), "\n")
			start(files)
			failures(before, 2)
			// ovsdb-server logs why it dropped the connection.
			s.Eventually(plugTimeout, "the SB server to log the rejected client certificate", func() error {
				lines := strings.Split(s.SB.Log(), "\n")
				for _, l := range lines[min(serverBefore, len(lines)):] {
					if strings.Contains(l, "stream_ssl") && strings.Contains(l, "certificate") {
						t.Logf("the SB server logs: %s", l)
						return nil
					}
				}
				return fmt.Errorf("no stream_ssl certificate error in %s", s.SB.LogPath())
			})
			lines := opLogLines(s, "OVSDB connection failed")
			t.Logf("the sidecar logs: %s", lines[len(lines)-1])
			refused(t)
			if err := s.Sidecar.Stop(); err != nil {
				t.Errorf("sidecar on SIGTERM: %v", err)
			}
		})
	}

	t.Run("ssl-remote-without-files", func(t *testing.T) {
		// Given as a flag, an ssl: remote without the TLS files is a
		// configuration error: exit 2 at start with one line.
		out, err := s.InNetNSErr(s.SidecarBin(), "--ovs-db="+s.OVSRemote(), "--sb-db="+remote, "--http-addr=")
		if err == nil || !strings.Contains(err.Error(), "exit status 2") || !strings.Contains(out+err.Error(), "needs --private-key, --certificate and --ca-cert") {
			t.Errorf("--sb-db=%s without TLS files: err %v, output %q; want exit 2 saying it needs the files", remote, err, out)
		}
		// Only some of the files is an error at start too.
		out, err = s.InNetNSErr(s.SidecarBin(), "--ovs-db="+s.OVSRemote(), "--sb-db="+remote,
			"--http-addr=", "--private-key="+good.PrivateKey, "--certificate="+good.Certificate)
		if err == nil || !strings.Contains(err.Error(), "exit status 2") || !strings.Contains(out+err.Error(), "must be given together") {
			t.Errorf("--private-key and --certificate without --ca-cert: err %v, output %q; want exit 2", err, out)
		}

		// From Open_vSwitch external_ids:ovn-remote it can only be found
		// at run time: the ssl: member is logged once and skipped, and
		// the other member is used rather than blocked.
		plain := s.SBRemote()
		s.VSCtl("set", "open", ".", "external_ids:ovn-remote=\""+remote+","+plain+"\"")
		defer s.VSCtl("set", "open", ".", "external_ids:ovn-remote=\""+plain+"\"")
		p := s.NewProc("sidecar-ovn-remote", nil, s.SidecarBin(), "--ovs-db="+s.OVSRemote(),
			"--chassis="+s.Chassis, "--http-addr="+s.SidecarAddr(), "--logtostderr")
		p.Start()
		s.Eventually(plugTimeout, "/readyz 200 through the non-ssl member of ovn-remote", func() error {
			if code, body := opReadyz(s); code != http.StatusOK {
				return fmt.Errorf("/readyz = %d %q", code, body)
			}
			return nil
		})
		var skipped []string
		for _, l := range strings.Split(p.Log(), "\n") {
			if strings.Contains(l, "Not using SB remotes that cannot be used") {
				skipped = append(skipped, l)
			}
		}
		if len(skipped) != 1 || !strings.HasPrefix(skipped[0], "W") || !strings.Contains(skipped[0], remote) || !strings.Contains(skipped[0], "needs --private-key") {
			t.Errorf("want one warning naming %s as unusable, got:\n%s", remote, strings.Join(skipped, "\n"))
		} else {
			t.Logf("the sidecar logs: %s", skipped[0])
		}
		if err := p.Stop(); err != nil {
			t.Errorf("sidecar on SIGTERM: %v", err)
		}
		// It plugged ssl-a over the unix: member; the next case plugs
		// it again over SSL.
		s.VSCtl("--if-exists", "del-port", "br-int", "ssl-a")
	})

	t.Run("good", func(t *testing.T) {
		t0 := time.Now()
		start(good)
		waitDummyPlugged(t, s, "ssl-a", 0, t0)
		s.Eventually(plugTimeout, "/readyz 200 over SSL", func() error {
			if code, body := opReadyz(s); code != http.StatusOK {
				return fmt.Errorf("/readyz = %d %q", code, body)
			}
			return nil
		})
		if err := opScrape(t, s).check(opEq(1), "1", "ovn_vif_sidecar_db_connected", "db", "sb"); err != nil {
			t.Error(err)
		}
		if n := opLogCount(s, "OVSDB connected and synced", `db="sb"`, `endpoint="`+remote+`"`); n == 0 {
			t.Errorf("no %q line for %s", "OVSDB connected and synced", remote)
		}
		// Plugging and unplugging go on over the SSL connection.
		t0 = time.Now()
		addDummyLSP(s, "ssl-b", 0)
		waitDummyPlugged(t, s, "ssl-b", 0, t0)
		s.NBCtl("lsp-del", "ssl-a")
		s.Eventually(plugTimeout, "ssl-a unplugged", func() error {
			if _, ok := s.Interface("ssl-a"); ok {
				return fmt.Errorf("Interface ssl-a still there")
			}
			return nil
		})
	})
}
