package render

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/internal/budget"
	"github.com/hagen-ha/hagen/schema"
)

// clientsComponent is the client side of the deployment: the DNS zone with
// the n.<domain> names, the same as an /etc/hosts fragment, a named.conf
// that serves the zone, and the client library's settings.
type clientsComponent struct{ noSite }

func (clientsComponent) packages() hostPackages {
	// The name server host: BIND serves the rendered zone.
	return hostPackages{Packages: []string{"bind9"}}
}

// dnsType is the record type of an address: A, or AAAA for IPv6.
func dnsType(addr string) string {
	if isIPv6(addr) {
		return "AAAA"
	}
	return "A"
}

func (clientsComponent) tree(d *deployment) {
	t := d.t
	spec := d.spec
	type record struct {
		Name, Address, Comment string
	}
	var records []record
	seen := map[string]bool{}
	for _, s := range t.Clients.Servers {
		site := d.site(s.Site)
		records = append(records, record{s.Name, site.Address, "site " + site.Name})
		seen[s.Name] = true
	}
	for _, s := range t.Sites {
		if !seen[s.Host] && strings.HasSuffix(s.Host, "."+t.Domain) {
			records = append(records, record{s.Host, s.Address, "host of site " + s.Name})
			seen[s.Host] = true
		}
	}
	if t.VIP != nil {
		records = append(records, record{"vip." + t.Domain, t.VIP.Address, "keepalived virtual IP"})
	}
	ns := "ns." + t.Domain
	records = append(records, record{ns, t.Clients.Nameserver, "name server"})

	// Type is A or, for an IPv6 address, AAAA.
	type zoneRecord struct{ Name, Type, Address, Comment string }
	zone := struct {
		Header, Domain, NS string
		Serial             uint32
		Records            []zoneRecord
	}{Header: header(spec, ";"), Domain: t.Domain, NS: ns}
	for _, r := range records {
		// A name outside the domain is the operator's own: the hosts
		// fragment lists it, its zone is elsewhere (RUNBOOK.md).
		if !schema.InDomain(r.Name, t.Domain) {
			continue
		}
		name := strings.TrimSuffix(r.Name, "."+t.Domain)
		if r.Name == t.Domain {
			name = "@"
		}
		zone.Records = append(zone.Records, zoneRecord{name, dnsType(r.Address), r.Address, r.Comment})
	}
	// The serial changes whenever the records do, and only then.
	h := fnv.New32a()
	for _, r := range zone.Records {
		fmt.Fprintf(h, "%s %s\n", r.Name, r.Address)
	}
	zone.Serial = h.Sum32()%2000000000 + 1
	zoneFile := "clients/" + t.Domain + ".zone"
	d.b.template(zoneFile, 0o644, contract.ReaderZone, "clients/zone.tmpl", zone)

	hosts := struct {
		Header  string
		Records []record
	}{header(spec, "#"), records}
	d.b.template("clients/hosts", 0o644, contract.ReaderHosts, "clients/hosts.tmpl", hosts)

	d.b.template("clients/named.conf", 0o644, contract.ReaderNamedConf, "clients/named.conf.tmpl", struct {
		Header, Domain, ZoneFile string
		// IPv6: the name server's address is IPv6, so BIND listens there.
		IPv6 bool
	}{header(spec, "//"), t.Domain, etcDir + "/" + zoneFile, isIPv6(t.Clients.Nameserver)})

	settings := contract.ClientSettings{
		URL:                   t.Clients.URL,
		Servers:               len(t.Clients.Servers),
		ReconnectDelaySeconds: t.Clients.ReconnectDelay,
		RequestTimeoutSeconds: t.Clients.RequestTimeout,
		Selection:             "randomized round robin with a first choice; on failure wait the reconnect delay and fail over to the next name",
		Test:                  t.Test,
	}
	for _, s := range t.Clients.Servers {
		settings.Names = append(settings.Names, s.Name)
	}
	d.b.contractFile(contract.ClientSettingsFile, contract.ReaderClient, settings)

	inv := &d.inv.Clients
	inv.URL = t.Clients.URL
	inv.ReconnectDelay = t.Clients.ReconnectDelay
	inv.RequestTimeout = t.Clients.RequestTimeout
	inv.Port = urlPort(t.Clients.URL)
	for _, c := range t.Clients.Servers {
		inv.Names = append(inv.Names, c.Name)
		inv.Sites = append(inv.Sites, c.Site)
	}
	d.inv.Nameserver = t.Clients.Nameserver

	c := rbClients{
		URL:            t.Clients.URL,
		Count:          len(t.Clients.Servers),
		ReconnectDelay: t.Clients.ReconnectDelay,
		Zone:           zoneFile,
		Hosts:          "clients/hosts",
		NamedConf:      "clients/named.conf",
		Settings:       contract.ClientSettingsFile,
		Nameserver:     t.Clients.Nameserver,
		Domain:         t.Domain,
	}
	count := map[string]int{}
	var outside []string
	for i, s := range t.Clients.Servers {
		n := rbName{Name: s.Name, Site: s.Site, Address: d.site(s.Site).Address, Outside: !schema.InDomain(s.Name, t.Domain)}
		if isIPv6(n.Address) {
			n.Query = " AAAA"
		}
		c.Names = append(c.Names, n)
		count[s.Site]++
		if s.Name != fmt.Sprintf("%d.%s", i, t.Domain) {
			c.Explicit = true
		}
		if n.Outside {
			outside = append(outside, mdCode(s.Name))
		}
	}
	c.Outside = joinAnd(outside)
	for _, s := range t.Sites {
		if n := count[s.Name]; n > 0 {
			c.Shares = append(c.Shares, rbShare{Site: s.Name, Names: n, Percent: n * 100 / c.Count})
			if n > 1 {
				c.HasWeights = true
			}
		}
	}
	d.rv.Clients = c
	d.rv.section(slotClients, "runbook/clients.md.tmpl")
}

// budgets: a client of the DNS names reaches a live server after a site is
// lost.
func (clientsComponent) budgets(t *schema.Topology) []pathBudget {
	return []pathBudget{{contract.BudgetPathClient, contract.BudgetFaultSiteLost,
		budget.Sum("a client reaches a live server after a site is lost", clientFailover(t))}}
}

// clientFailover is the client library's failover after a site is lost:
// the request in flight fails (at the latest after the request timeout),
// the client waits the reconnect delay before each next name, in order,
// so a client on the first of a run of names of the lost site waits once
// per name of that run, and the request to the live server answers
// within the request timeout. The worst case is the longest such run, the
// list read as a circle.
func clientFailover(t *schema.Topology) budget.Term {
	names := t.Clients.Servers
	longest := 1
	for i := range names {
		run := 1
		for run < len(names) && names[(i+run)%len(names)].Site == names[i].Site {
			run++
		}
		longest = max(longest, run)
	}
	return budget.DNSClientFailover(seconds(t.Clients.RequestTimeout), seconds(t.Clients.ReconnectDelay), longest)
}
