package stack

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// SSLFiles are an OVS-style SSL configuration: a PEM private key, its
// certificate, and the CA certificate the peer's certificate must be
// signed by. ovsdb-server and the sidecar take them as the same flags.
type SSLFiles struct {
	PrivateKey  string
	Certificate string
	CACert      string
}

// Args returns --private-key, --certificate and --ca-cert flags.
func (f SSLFiles) Args() []string {
	return []string{"--private-key=" + f.PrivateKey, "--certificate=" + f.Certificate, "--ca-cert=" + f.CACert}
}

// CA is a throwaway certificate authority for tests, like the one ovs-pki
// makes, but generated in Go (ECDSA P-256) in milliseconds.
type CA struct {
	Name string
	// CertFile is the CA's PEM certificate (what --ca-cert names).
	CertFile string

	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA creates a self-signed CA whose files go in dir. It fails tb on error.
func NewCA(tb TB, dir, name string) *CA {
	tb.Helper()
	ca, err := newCA(dir, name)
	if err != nil {
		tb.Fatalf("stack: CA %s: %v", name, err)
	}
	return ca
}

func newCA(dir, name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"ovn-vif-sidecar tests"}, CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &CA{Name: name, CertFile: filepath.Join(dir, name+"-cacert.pem"), dir: dir, cert: cert, key: key}
	return ca, writePEM(ca.CertFile, "CERTIFICATE", der)
}

// Issue makes a key pair for name signed by the CA, usable as server and
// as client, and returns it with the CA's own certificate as CACert.
func (ca *CA) Issue(tb TB, name string) SSLFiles {
	tb.Helper()
	f, err := ca.issue(name)
	if err != nil {
		tb.Fatalf("stack: issue %s from CA %s: %v", name, ca.Name, err)
	}
	return f
}

func (ca *CA) issue(name string) (SSLFiles, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return SSLFiles{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		// Like ovs-pki: the name is the switch's or chassis's, not the
		// address it listens on.
		Subject:     pkix.Name{Organization: []string{"ovn-vif-sidecar tests"}, CommonName: name},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return SSLFiles{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return SSLFiles{}, err
	}
	f := SSLFiles{
		PrivateKey:  filepath.Join(ca.dir, fmt.Sprintf("%s-%s-privkey.pem", ca.Name, name)),
		Certificate: filepath.Join(ca.dir, fmt.Sprintf("%s-%s-cert.pem", ca.Name, name)),
		CACert:      ca.CertFile,
	}
	if err := writePEM(f.PrivateKey, "PRIVATE KEY", keyDER); err != nil {
		return SSLFiles{}, err
	}
	return f, writePEM(f.Certificate, "CERTIFICATE", der)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
