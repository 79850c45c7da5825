package stack

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"testing"
	"time"
)

func TestParseClusterStatus(t *testing.T) {
	out := `fae0
Name: OVN_Southbound
Cluster ID: 80ad (80ad746b-a5b2-4360-8924-885df4ddec14)
Server ID: e375 (e375654f-922b-42f7-8dbe-75fa95753fcb)
Address: tcp:127.0.0.1:16642
Status: cluster member
Role: follower
Term: 3
Leader: fae0
Vote: unknown

Election timer: 1000
Servers:
    fae0 (fae0 at tcp:127.0.0.1:16641) last msg 5 ms ago
    e375 (e375 at tcp:127.0.0.1:16642) (self)
`
	st, err := parseClusterStatus(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.SID != "e375" || st.Status != "cluster member" || st.Role != "follower" || st.Term != 3 || st.Leader != "fae0" {
		t.Errorf("parsed %+v", st)
	}
	st, err = parseClusterStatus("Server ID: fae0 (x)\nStatus: cluster member\nRole: leader\nTerm: 1\nLeader: self\n")
	if err != nil || st.Leader != "fae0" {
		t.Errorf("self leader: %+v, %v", st, err)
	}
	if _, err := parseClusterStatus("garbage"); err == nil {
		t.Error("garbage parsed")
	}
}

func TestParseIfaceUpdate(t *testing.T) {
	at := time.Now()
	evs, err := parseIfaceUpdate(`{"data":[["u1","insert","p1",["map",[["iface-id","lsp1"]]]]],"headings":["row","action","name","external_ids"]}`, at)
	if err != nil || len(evs) != 1 || evs[0].Action != "insert" || evs[0].UUID != "u1" || evs[0].ExternalIDs["iface-id"] != "lsp1" {
		t.Fatalf("insert: %+v, %v", evs, err)
	}
	evs, err = parseIfaceUpdate(`{"data":[["u1","old",null,["map",[["iface-id","lsp1"],["ovn-plugged","dummy"]]]],["","new","p1",["map",[["iface-id","lsp2"]]]]],"headings":["row","action","name","external_ids"]}`, at)
	if err != nil || len(evs) != 1 || evs[0].Action != "modify" || evs[0].UUID != "u1" || evs[0].Name != "p1" ||
		evs[0].OldExternalIDs["ovn-plugged"] != "dummy" || evs[0].ExternalIDs["iface-id"] != "lsp2" {
		t.Fatalf("modify: %+v, %v", evs, err)
	}
	evs, err = parseIfaceUpdate(`{"data":[["u1","old","p0",null],["","new","p1",["map",[]]]],"headings":["row","action","name","external_ids"]}`, at)
	if err != nil || len(evs) != 1 || evs[0].OldExternalIDs != nil {
		t.Fatalf("rename only: %+v, %v", evs, err)
	}
	evs, err = parseIfaceUpdate(`{"data":[["u1","delete","p1",["map",[["ovn-plugged","dummy"]]]]],"headings":["row","action","name","external_ids"]}`, at)
	if err != nil || len(evs) != 1 || evs[0].Action != "delete" || evs[0].ExternalIDs["ovn-plugged"] != "dummy" {
		t.Fatalf("delete: %+v, %v", evs, err)
	}
	if _, err := parseIfaceUpdate(`{"data":[["u1","frobnicate","p1",["map",[]]]],"headings":["row","action","name","external_ids"]}`, at); err == nil {
		t.Error("unknown action accepted")
	}
}

func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:2504":                         "127.0.0.1:9476",
		"00000000:0050":                         "0.0.0.0:80",
		"00000000000000000000000000000000:1F90": "[::]:8080",
		"00000000000000000000000001000000:0016": "[::1]:22",
	} {
		if got, err := parseProcAddr(in); err != nil || got != want {
			t.Errorf("parseProcAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := parseProcAddr("zz:1"); err == nil {
		t.Error("bad address accepted")
	}
}

func TestListeningTCPSelf(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addrs, err := ListeningTCP(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range addrs {
		found = found || a == l.Addr().String()
	}
	if !found {
		t.Errorf("ListeningTCP(self) = %v, want it to include %s", addrs, l.Addr())
	}
}

// TestCA checks that an issued pair verifies against its CA, works in a
// TLS handshake, and does not verify against another CA of the same name.
func TestCA(t *testing.T) {
	dir := t.TempDir()
	ca := NewCA(t, dir, "ca")
	impostor := NewCA(t, t.TempDir(), "ca")
	f := ca.Issue(t, "sb")
	if f.CACert != ca.CertFile {
		t.Errorf("CACert = %s, want %s", f.CACert, ca.CertFile)
	}
	pair, err := tls.LoadX509KeyPair(f.Certificate, f.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := func(c *CA) *x509.CertPool {
		p := x509.NewCertPool()
		pem, err := os.ReadFile(c.CertFile)
		if err != nil || !p.AppendCertsFromPEM(pem) {
			t.Fatalf("read %s: %v", c.CertFile, err)
		}
		return p
	}
	usage := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool(ca), KeyUsages: usage}); err != nil {
		t.Errorf("issued certificate does not verify against its CA: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool(impostor)}); err == nil {
		t.Error("issued certificate verifies against another CA with the same name")
	}
	if got := f.Args(); len(got) != 3 || got[2] != "--ca-cert="+ca.CertFile {
		t.Errorf("Args() = %v", got)
	}
}
