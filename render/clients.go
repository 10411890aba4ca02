package render

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/hagen-ha/hagen/contract"
)

// renderClients writes what the client side needs: the DNS zone with the
// n.<domain> names, the same as an /etc/hosts fragment, a named.conf that
// serves the zone, and the client library's settings.
func renderClients(b *builder) {
	t := b.t
	spec := specName(t.Source)
	type record struct {
		Name, Address, Comment string
	}
	var records []record
	seen := map[string]bool{}
	for _, s := range t.Clients.Servers {
		site := t.Site(s.Site)
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

	type zoneRecord struct{ Name, Address, Comment string }
	zone := struct {
		Header, Domain, NS string
		Serial             uint32
		Records            []zoneRecord
	}{Header: header(spec, ";"), Domain: t.Domain, NS: ns}
	for _, r := range records {
		zone.Records = append(zone.Records, zoneRecord{strings.TrimSuffix(r.Name, "."+t.Domain), r.Address, r.Comment})
	}
	// The serial changes whenever the records do, and only then.
	h := fnv.New32a()
	for _, r := range zone.Records {
		fmt.Fprintf(h, "%s %s\n", r.Name, r.Address)
	}
	zone.Serial = h.Sum32()%2000000000 + 1
	b.addTemplate("clients/"+t.Domain+".zone", 0o644, "zone.tmpl", zone)

	hosts := struct {
		Header  string
		Records []record
	}{header(spec, "#"), records}
	b.addTemplate("clients/hosts", 0o644, "hosts.tmpl", hosts)

	b.addTemplate("clients/named.conf", 0o644, "named.conf.tmpl", struct {
		Header, Domain, ZoneFile string
	}{header(spec, "//"), t.Domain, "/etc/hagen/clients/" + t.Domain + ".zone"})

	settings := contract.ClientSettings{
		URL:                   t.Clients.URL,
		Servers:               len(t.Clients.Servers),
		ReconnectDelaySeconds: t.Clients.ReconnectDelay,
		Selection:             "randomized round robin with a first choice; on failure wait the reconnect delay and fail over to the next name",
		Test:                  t.Test,
	}
	for _, s := range t.Clients.Servers {
		settings.Names = append(settings.Names, s.Name)
	}
	data, err := contract.Encode(settings)
	if err != nil {
		b.fail(err)
		return
	}
	b.add(contract.ClientSettingsFile, 0o644, data)
}
