package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hagen-ha/hagen/contract"
)

// TLS material of a run (security.ssl): the operator's step of RUNBOOK.md
// (a CA, and for each site a certificate naming its host, address and,
// where it carries it, the VIP) done by verify with a throwaway CA. The
// files go where the compose files' file: secrets are read from in the
// run's temporary tree, and leave with it; the key material is never
// logged.

// tlsValidity is how long the run's certificates are valid: longer than
// any run, short enough that a copy kept by mistake is soon worthless.
const tlsValidity = 6 * time.Hour

// tlsMaterial is the run's CA and one certificate and key per site, PEM.
type tlsMaterial struct {
	caPEM []byte
	// pool holds the CA, for verify's own clients (verify-full).
	pool  *x509.CertPool
	sites map[string]siteTLS
}

type siteTLS struct {
	certPEM, keyPEM []byte
}

// newTLSMaterial makes a fresh CA and signs a server certificate for each
// site with the names of its inventory tlsNames ("DNS:…", "IP:…").
func newTLSMaterial(inv contract.Inventory, now time.Time) (*tlsMaterial, error) {
	caKey, caCert, caDER, err := newCA("hagen verify CA "+inv.Name, now)
	if err != nil {
		return nil, err
	}
	m := &tlsMaterial{
		caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pool:  x509.NewCertPool(),
		sites: map[string]siteTLS{},
	}
	m.pool.AddCert(caCert)
	for _, s := range inv.Sites {
		tmpl, err := serverTemplate(s, now)
		if err != nil {
			return nil, err
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return nil, fmt.Errorf("site %s certificate: %w", s.Name, err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		m.sites[s.Name] = siteTLS{
			certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		}
	}
	return m, nil
}

// newCA makes a self-signed CA valid for tlsValidity from now.
func newCA(name string, now time.Time) (*ecdsa.PrivateKey, *x509.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(tlsValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return key, cert, der, nil
}

// serverTemplate is a site's certificate: its host as the subject, every
// name of tlsNames as a subjectAltName.
func serverTemplate(s contract.InventorySite, now time.Time) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: s.Host},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(tlsValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if len(s.TLSNames) == 0 {
		return nil, fmt.Errorf("site %s: the inventory names no tlsNames for its certificate", s.Name)
	}
	for _, n := range s.TLSNames {
		kind, v, ok := strings.Cut(n, ":")
		switch {
		case ok && kind == "DNS":
			tmpl.DNSNames = append(tmpl.DNSNames, v)
		case ok && kind == "IP":
			ip := net.ParseIP(v)
			if ip == nil {
				return nil, fmt.Errorf("site %s: tlsNames %q is not an address", s.Name, n)
			}
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		default:
			return nil, fmt.Errorf("site %s: tlsNames %q is neither DNS: nor IP:", s.Name, n)
		}
	}
	return tmpl, nil
}

// file is the content of the TLS file a site's compose file reads from
// path (inventory tls's certificate, key or CA), or false for another
// path.
func (m *tlsMaterial) file(t *contract.InventoryTLS, siteName, path string) ([]byte, bool) {
	if m == nil || t == nil {
		return nil, false
	}
	st, ok := m.sites[siteName]
	switch {
	case path == t.CA:
		return m.caPEM, true
	case path == t.Certificate && ok:
		return st.certPEM, true
	case path == t.Key && ok:
		return st.keyPEM, true
	}
	return nil, false
}

// clientConfig is what a client with sslmode=verify-full and the run's CA
// checks: the chain up to the CA and that the certificate names host.
func (m *tlsMaterial) clientConfig(host string) *tls.Config {
	return &tls.Config{RootCAs: m.pool, ServerName: host, MinVersion: tls.VersionTLS12}
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// connectWithCA opens a connection to addr as connect does, but verifying
// the server against ca instead of the run's CA, and closes it: the error
// says how the handshake ended.
func (c *cluster) connectWithCA(ctx context.Context, addr string, ca *x509.Certificate) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable connect_timeout=2 application_name=hagen-verify",
		addr, c.inv.Database.PublishedPort, c.inv.Database.Superuser, c.inv.Database.Name))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	cfg.TLSConfig = &tls.Config{RootCAs: pool, ServerName: addr, MinVersion: tls.VersionTLS12}
	cfg.Password = c.secrets["POSTGRES_PASSWORD"]
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	return conn.Close(context.Background())
}
