package app

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// writePEMPair writes a self-signed certificate and its key; the
// certificate doubles as the CA.
func writePEMPair(t *testing.T, dir, name string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, name+"-cert.pem"), filepath.Join(dir, name+"-privkey.pem")
	write(t, cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	write(t, key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	return cert, key
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Every TLS failure names the flag and the file, and what is wrong with it.
func TestTLSErrorsNameFlagAndFile(t *testing.T) {
	dir := t.TempDir()
	cert, key := writePEMPair(t, dir, "a")
	otherCert, _ := writePEMPair(t, dir, "b")
	notPEM := filepath.Join(dir, "garbage.txt")
	write(t, notPEM, []byte("not a certificate\n"))
	missing := filepath.Join(dir, "missing.pem")

	if cfg, err := loadTLS(key, cert, cert); err != nil || cfg == nil || len(cfg.Certificates) != 1 {
		t.Fatalf("loadTLS of a good pair: %v, %v", cfg, err)
	}
	for _, tc := range []struct {
		key, cert, ca string
		want          string
	}{
		{key, notPEM, cert, "--certificate " + notPEM + `: not a PEM file with a certificate (want a "-----BEGIN CERTIFICATE-----" block)`},
		{notPEM, cert, cert, "--private-key " + notPEM + `: not a PEM file with a private key (want a "-----BEGIN PRIVATE KEY-----" block)`},
		{cert, cert, cert, "--private-key " + cert + ": not a PEM file with a private key"},
		{key, cert, notPEM, "--ca-cert " + notPEM + ": not a PEM file with a certificate"},
		{key, cert, key, "--ca-cert " + key + ": not a PEM file with a certificate"},
		{key, cert, dir, "--ca-cert " + dir + ": is a directory; give the file itself"},
		{key, dir, cert, "--certificate " + dir + ": is a directory"},
		{missing, cert, cert, "--private-key " + missing + ": no such file"},
		{key, otherCert, cert, "--certificate " + otherCert + " with --private-key " + key + ": tls: private key does not match public key"},
	} {
		_, err := loadTLS(tc.key, tc.cert, tc.ca)
		if err == nil || err.Error() != tc.want && !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("loadTLS(key=%s, cert=%s, ca=%s) = %v, want %q", tc.key, tc.cert, tc.ca, err, tc.want)
		}
		if err != nil && strings.Count(err.Error(), dir) > 2 {
			t.Errorf("the path is repeated: %v", err)
		}
	}
}

func TestSuggest(t *testing.T) {
	flags := []string{"ovs-db", "sb-db", "chassis", "bridge", "http-addr", "providers", "provider-config", "v", "vmodule", "state"}
	for name, want := range map[string]string{
		"sb-bd":     "sb-db",
		"sbdb":      "sb-db",
		"chasis":    "chassis",
		"brigde":    "bridge",
		"http":      "http-addr",
		"provider":  "providers",
		"ovs-db":    "ovs-db",
		"vv":        "v",
		"stat":      "state",
		"nonsense":  "",
		"x":         "",
		"ssl-cert":  "",
		"chassis-x": "chassis",
	} {
		got := strings.Join(suggest(name, flags), ",")
		if got != want {
			t.Errorf("suggest(%q) = %q, want %q", name, got, want)
		}
	}
	if d := editDistance("sb-bd", "sb-db"); d != 1 {
		t.Errorf("a transposition costs %d, want 1", d)
	}
}

// --ovs-db never suggests ssl:, which it refuses.
func TestOVSDBHintListsAcceptedForms(t *testing.T) {
	for _, r := range []string{"/var/run/openvswitch/db.sock", "db.sock", "foo:bar", "ssl:127.0.0.1:6640", "unix:", "tcp:host"} {
		err := validateOVSRemote(r)
		if err == nil {
			t.Errorf("--ovs-db %q accepted", r)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "ssl:HOST") || !strings.Contains(msg, "--ovs-db") {
			t.Errorf("--ovs-db %q: %q must name the flag and not suggest ssl:", r, msg)
		}
	}
	for _, r := range []string{"unix:/var/run/openvswitch/db.sock", "tcp:127.0.0.1:6640"} {
		if err := validateOVSRemote(r); err != nil {
			t.Errorf("--ovs-db %q: %v", r, err)
		}
	}
}

// status exits like systemctl is-active: 0 ready, 3 not ready, 1 when the
// daemon cannot tell.
func TestStatusExitCodes(t *testing.T) {
	ports := []sidecar.PortStatus{{LogicalPort: "lp1", Provider: "dummy", State: plan.StatePlugged}}
	ready := fakeDaemon(t, ports, sidecar.Health{Ready: true, Primed: true, BridgeFound: true})
	notReady := fakeDaemon(t, ports, sidecar.Health{Reasons: []string{"integration bridge br-int does not exist"}})
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ports" {
			_, _ = w.Write([]byte("[]"))
			return
		}
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(broken.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedAddr := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()
	for _, tc := range []struct {
		args []string
		code int
		out  string // on stdout for 0 and 3, stderr otherwise
	}{
		{[]string{"--http-addr=" + ready}, 0, "Ready:        yes"},
		{[]string{"--http-addr=" + ready, "--json"}, 0, `"logical_port": "lp1"`},
		{[]string{"--http-addr=" + notReady}, 3, "Ready:        no: integration bridge br-int does not exist"},
		{[]string{"--http-addr=" + notReady, "--json"}, 3, `"logical_port": "lp1"`},
		{[]string{"--http-addr=" + notReady, "--state=error"}, 3, "LOGICAL PORT"},
		{[]string{"--http-addr=" + strings.TrimPrefix(broken.URL, "http://")}, 1, "answered 500 Internal Server Error to /health"},
		{[]string{"--http-addr=" + closedAddr}, 1, "cannot reach ovn-vif-sidecar at " + closedAddr},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"status"}, tc.args...), &stdout, &stderr)
		out := stderr.String()
		if code == 0 || code == 3 {
			out = stdout.String()
		}
		if code != tc.code || !strings.Contains(out, tc.out) {
			t.Errorf("status %v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", tc.args, code, tc.code, tc.out, stdout.String(), stderr.String())
		}
	}
}

// hw on a host without switchdev ports says why the table is empty and
// how to fix it, on stderr so that --json stays JSON.
func TestHWEmptyTableHint(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "class/net"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, asJSON := range []bool{false, true} {
		args := []string{"hw", "--sysfs-root=" + root, "--ovs-db="}
		if asJSON {
			args = append(args, "--json")
		}
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		for _, want := range []string{"No switchdev ports found under " + root, "devlink dev eswitch show", "devlink dev eswitch set pci/<PCI address> mode switchdev"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("%v: stderr lacks %q:\n%s", args, want, stderr.String())
			}
		}
		if asJSON && strings.TrimSpace(stdout.String()) != "[]" {
			t.Errorf("hw --json printed %q, want []", stdout.String())
		}
		if !asJSON && !strings.Contains(stdout.String(), "NETDEV") {
			t.Errorf("hw printed no table header: %q", stdout.String())
		}
	}
}

// With devlink's answer, the hint names each legacy eswitch's command.
func TestHWEmptyHintNamesLegacyEswitches(t *testing.T) {
	dev := func(name, mode string) *netlink.DevlinkDevice {
		return &netlink.DevlinkDevice{BusName: "pci", DeviceName: name, Attrs: netlink.DevlinkDevAttrs{Eswitch: netlink.DevlinkDevEswitchAttr{Mode: mode}}}
	}
	got := emptyHWHint("/sys", []*netlink.DevlinkDevice{dev("0000:03:00.0", "legacy"), dev("0000:03:00.1", "switchdev"), dev("0000:04:00.0", "legacy")})
	for _, want := range []string{
		"No switchdev ports found under /sys",
		"  devlink dev eswitch set pci/0000:03:00.0 mode switchdev\n",
		"  devlink dev eswitch set pci/0000:04:00.0 mode switchdev\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("hint lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "0000:03:00.1") || strings.Contains(got, "<PCI address>") {
		t.Errorf("hint names a switchdev device or the placeholder:\n%s", got)
	}
	if generic := emptyHWHint("/sys", nil); !strings.Contains(generic, "devlink dev eswitch set pci/<PCI address> mode switchdev") {
		t.Errorf("without devlink devices the hint lacks the generic command:\n%s", generic)
	}
}
