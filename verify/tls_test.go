package verify

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/hagen-ha/hagen/contract"
)

// The run's TLS material: each site's certificate chains to the run's CA
// and carries exactly the names of its tlsNames, its key matches it, and
// the files are those of the inventory's paths.
func TestTLSMaterial(t *testing.T) {
	inv := contract.Inventory{
		Name: "q",
		Sites: []contract.InventorySite{
			{Name: "db0", Host: "0.q.test", TLSNames: []string{"DNS:0.q.test", "IP:10.233.0.11", "IP:10.233.0.100"}},
			{Name: "db1", Host: "1.q.test", TLSNames: []string{"DNS:1.q.test", "IP:10.233.0.12"}},
		},
		TLS: &contract.InventoryTLS{Certificate: "/etc/t/server.crt", Key: "/etc/t/server.key", CA: "/etc/t/ca.crt", SSLMode: "verify-full"},
	}
	now := time.Now()
	m, err := newTLSMaterial(inv, now)
	if err != nil {
		t.Fatal(err)
	}
	ca, ok := m.file(inv.TLS, "db1", "/etc/t/ca.crt")
	if !ok || string(ca) != string(m.caPEM) {
		t.Fatalf("CA file: %v", ok)
	}
	if _, ok := m.file(inv.TLS, "db1", "/etc/other"); ok {
		t.Error("a path that is not a TLS file got TLS content")
	}
	for _, s := range inv.Sites {
		certPEM, ok1 := m.file(inv.TLS, s.Name, "/etc/t/server.crt")
		keyPEM, ok2 := m.file(inv.TLS, s.Name, "/etc/t/server.key")
		if !ok1 || !ok2 {
			t.Fatalf("%s: no certificate or key", s.Name)
		}
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			t.Errorf("%s: key does not match the certificate: %v", s.Name, err)
		}
		b, _ := pem.Decode(certPEM)
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, n := range cert.DNSNames {
			names = append(names, "DNS:"+n)
		}
		for _, ip := range cert.IPAddresses {
			names = append(names, "IP:"+ip.String())
		}
		if strings.Join(names, ",") != strings.Join(s.TLSNames, ",") {
			t.Errorf("%s: names %v, want %v", s.Name, names, s.TLSNames)
		}
		if cert.NotAfter.After(now.Add(tlsValidity)) {
			t.Errorf("%s: valid until %s, longer than %s", s.Name, cert.NotAfter, tlsValidity)
		}
		for _, n := range s.TLSNames {
			_, v, _ := strings.Cut(n, ":")
			if _, err := cert.Verify(x509.VerifyOptions{Roots: m.pool, DNSName: v, CurrentTime: now}); err != nil {
				t.Errorf("%s: does not verify for %s: %v", s.Name, v, err)
			}
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: m.pool, DNSName: "9.q.test", CurrentTime: now}); err == nil {
			t.Errorf("%s: verifies for a name it does not carry", s.Name)
		}
		// Another CA does not vouch for it.
		_, other, _, err := newCA("other", now)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(other)
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now}); err == nil {
			t.Errorf("%s: verifies against another CA", s.Name)
		}
	}
	if _, err := newTLSMaterial(contract.Inventory{Sites: []contract.InventorySite{{Name: "x"}}}, now); err == nil {
		t.Error("a site without tlsNames got a certificate")
	}
}

// With several standbys, the primary's pg_stat_replication must show each
// streaming and as many synchronous as the spec's count.
func TestSyncProblem(t *testing.T) {
	mk := func(method string, count int) *cluster {
		c := &cluster{inv: contract.Inventory{Database: contract.InventoryDB{Service: "postgres", Synchronous: true, SynchronousMethod: method, SynchronousCount: count}}}
		for i, a := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
			role := "standby"
			if i == 0 {
				role = "primary"
			}
			c.sites = append(c.sites, &site{Inv: contract.InventorySite{Name: a, Address: a, Role: role, Services: []string{"postgres", "hagen-agent"}}})
		}
		return c
	}
	c := mk("any", 1)
	p := c.sites[0]
	for _, tc := range []struct {
		rows []replica
		ok   bool
	}{
		{[]replica{{Addr: "10.0.0.2", State: "streaming", SyncState: "quorum"}, {Addr: "10.0.0.3", State: "streaming", SyncState: "quorum"}}, true},
		{[]replica{{Addr: "10.0.0.2", State: "streaming", SyncState: "quorum"}, {Addr: "10.0.0.3", State: "streaming", SyncState: "async"}}, true},
		{[]replica{{Addr: "10.0.0.2", State: "streaming", SyncState: "quorum"}}, false},
		{[]replica{{Addr: "10.0.0.2", State: "streaming", SyncState: "async"}, {Addr: "10.0.0.3", State: "catchup", SyncState: "quorum"}}, false},
	} {
		if err := c.syncProblem(p, tc.rows); (err == nil) != tc.ok {
			t.Errorf("%v: %v, expected ok %v", tc.rows, err, tc.ok)
		}
	}
	c = mk("any", 2)
	if err := c.syncProblem(c.sites[0], []replica{{Addr: "10.0.0.2", State: "streaming", SyncState: "quorum"}, {Addr: "10.0.0.3", State: "streaming", SyncState: "async"}}); err == nil {
		t.Error("ANY 2 with one quorum standby passed")
	}
}

func TestFeatureScenariosApply(t *testing.T) {
	quorum := &contract.Inventory{
		Database: contract.InventoryDB{Synchronous: true, SynchronousMethod: "any", SynchronousCount: 1, Witnesses: []string{"a", "b", "c"}},
		Sites:    []contract.InventorySite{{Role: "primary"}, {Role: "standby"}, {Role: "standby"}},
		TLS:      &contract.InventoryTLS{},
	}
	pair := &contract.Inventory{
		Database: contract.InventoryDB{Synchronous: true, Witness: "a", Witnesses: []string{"a"}},
		Sites:    []contract.InventorySite{{Role: "primary"}, {Role: "standby"}},
	}
	for _, f := range []func(*contract.Inventory) string{needsQuorum, needsWitnesses, needsTLS} {
		if why := f(quorum); why != "" {
			t.Errorf("does not apply to the quorum spec: %s", why)
		}
		if why := f(pair); why == "" {
			t.Errorf("applies to a pair with one witness, no quorum and no TLS")
		}
	}
}
