package render

import (
	"path"
	"strings"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/schema"
)

// tlsComponent is the TLS material of security.ssl: the certificate, key
// and CA that security.tls names as files on each host. It renders no
// process of its own: the processes that use the files (PostgreSQL, which
// serves TLS, and every client of another site's database: a standby's
// replication, role.sh, keepalived's notify.sh, Bucardo) read them as
// secrets through the helpers below. The component adds what belongs to
// the material itself: the names each site's certificate must carry and
// how to make them (the RUNBOOK), and inventory.json's facts.
type tlsComponent struct{ noPackages }

// The variables under which processes receive the TLS files (always
// file: references, so each arrives as NAME_FILE, a path).
const (
	secretTLSCert = "HAGEN_TLS_CERT"
	secretTLSKey  = "HAGEN_TLS_KEY"
	secretTLSCA   = "HAGEN_TLS_CA"
)

// Where the PostgreSQL entrypoint (and natively postgres-prepare.sh) puts
// the TLS files at every start, owned by postgres, the key readable by it
// only: postgresql.conf and the server's own connections to other sites
// (primary_conninfo, role.sh) name them there.
const (
	pgTLSDir    = pgRunDir + "/tls"
	pgTLSCert   = pgTLSDir + "/server.crt"
	pgTLSKey    = pgTLSDir + "/server.key"
	pgTLSCAFile = pgTLSDir + "/ca.crt"
)

// tlsOn reports whether the deployment uses TLS between its sites.
func tlsOn(t *schema.Topology) bool { return t.Security.SSL && t.Security.TLS != nil }

// sslMode is the libpq sslmode of a connection to another site's
// database: verify-full with TLS (the certificate must name the host
// dialled), prefer without.
func sslMode(t *schema.Topology) string {
	if tlsOn(t) {
		return "verify-full"
	}
	return "prefer"
}

// tlsServerSecrets are the TLS files the PostgreSQL entrypoint installs.
func tlsServerSecrets(t *schema.Topology) []secretUse {
	if !tlsOn(t) {
		return nil
	}
	f := t.Security.TLS
	return []secretUse{{secretTLSCert, f.Certificate}, {secretTLSKey, f.Key}, {secretTLSCA, f.CA}}
}

// tlsCASecret is the CA file a client of other sites' databases reads,
// or nothing without TLS.
func tlsCASecret(t *schema.Topology) []secretUse {
	if !tlsOn(t) {
		return nil
	}
	return []secretUse{{secretTLSCA, t.Security.TLS.CA}}
}

// sslRootCert is the conninfo fragment that names the CA file at path:
// " sslrootcert=<path>" with TLS, "" without.
func sslRootCert(t *schema.Topology, path string) string {
	if !tlsOn(t) {
		return ""
	}
	return " sslrootcert=" + path
}

// tlsNames are the names a site's certificate must carry: every name and
// address other sites and clients dial it by (verify-full checks the
// host name dialled against them): its host name and address, and the
// virtual IP and vip.<domain> where it carries the VIP.
//
// HAProxy in front of the database passes sessions through: a client
// dialling an HAProxy host (or the VIP the HAProxy hosts carry) gets the
// certificate of the server HAProxy chose, so a server's certificate also
// names every proxyOnly site's host name and address, and their VIP.
func tlsNames(v *siteView) []string {
	names := []string{"DNS:" + v.Site.Host, "IP:" + v.Site.Address}
	vip := v.VIP
	if dialers := proxyOnlyDialers(v); len(dialers) > 0 {
		for _, s := range v.T.Sites {
			if s.ProxyOnly && v.T.Proxy.RunsOn(s.Name) {
				names = appendUnique(names, "DNS:"+s.Host)
				names = appendUnique(names, "IP:"+s.Address)
			}
		}
		vip = vip || v.T.VIPOnProxies()
	}
	if vip {
		names = append(names, "IP:"+v.T.VIP.Address, "DNS:vip."+v.T.Domain)
	}
	return names
}

// rbTLS is what the RUNBOOK says of a site's certificate.
type rbTLS struct {
	// First: the CA is made with the first site's note.
	First             bool
	Names             string // subjectAltName
	CN                string
	Cert, Key, CA     string // the paths on the host
	CAName            string
	CertFile, KeyFile string // the files made, in the current directory
	// Dirs are the directories of Cert, Key and CA, each once.
	Dirs []string
}

func (tlsComponent) site(v *siteView) {
	t := v.T
	if !tlsOn(t) || v.ProxyOnly {
		return
	}
	f := t.Security.TLS
	names := tlsNames(v)
	v.inv.TLSNames = names
	first := v.d.sites[0] == v
	rb := rbTLS{
		First: first, Names: strings.Join(names, ","), CN: v.Site.Host,
		Cert: f.Certificate.Path(), Key: f.Key.Path(), CA: f.CA.Path(),
		CAName:   t.Name + " database CA",
		CertFile: v.Site.Name + ".crt", KeyFile: v.Site.Name + ".key",
	}
	for _, p := range []string{rb.Cert, rb.Key, rb.CA} {
		rb.Dirs = appendUnique(rb.Dirs, path.Dir(p))
	}
	v.rb.Parts["tls"] = rb
	v.d.rv.installNote(v.rb, "runbook/tls-install.md.tmpl")
}

func (tlsComponent) tree(d *deployment) {
	if !tlsOn(d.t) {
		return
	}
	f := d.t.Security.TLS
	d.inv.TLS = &contract.InventoryTLS{Certificate: f.Certificate.Path(), Key: f.Key.Path(), CA: f.CA.Path(), SSLMode: sslMode(d.t)}
}
