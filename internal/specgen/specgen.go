// Package specgen writes specs of any number of sites, for the render
// benchmarks and the speed script (scripts/speed): one multi-master
// layout with a LAN per site, one primary-standby layout on one LAN.
package specgen

import (
	"fmt"
	"strings"
)

// MaxSites is the most sites a generated spec holds (site indexes are
// 0–254).
const MaxSites = 255

// MultiMaster is a multi-master spec with n sites, each on its own /24,
// Bucardo on the first, one client name per site and one app service.
func MultiMaster(n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "name: \"gen-%d\"\ndomain: \"ha.test\"\ntest: true\nsites: [\n", n)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\t{name: \"s%d\", index: %d, host: \"%d.ha.test\", address: \"10.%d.%d.10\", lan: \"10.%d.%d.0/24\"},\n", i, i, i, 100+i/200, i%200, 100+i/200, i%200)
	}
	b.WriteString(`]
database: {name: "app", publishedPort: 5444, password: "env:POSTGRES_PASSWORD", mode: "multi-master-async",
	bucardo: {site: "s0", seedSite: "s0", tables: "all"}}
`)
	clients(&b, n, "ha.test", "10.250.0.53")
	b.WriteString(`services: app: {image: "example/app:1", ports: [{published: 8001, target: 8001}], secrets: DB_PASSWORD: "env:POSTGRES_PASSWORD"}
security: allowedClients: ["10.250.0.0/24"]
`)
	return []byte(b.String())
}

// PrimaryStandby is a primary-standby spec with n sites on one /16: the
// first is the primary, every other a standby, the second the one
// synchronous standby; a virtual IP on the first two, HAProxy on every
// site, one client name per site and one app service.
func PrimaryStandby(n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "name: \"ps-%d\"\ndomain: \"ps.test\"\ntest: true\nsites: [\n", n)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\t{name: \"s%d\", index: %d, host: \"%d.ps.test\", address: \"10.200.%d.%d\", lan: \"10.200.0.0/16\"},\n", i, i, i, i/200, 10+i%200)
	}
	b.WriteString(`]
database: {name: "app", publishedPort: 5444, password: "env:POSTGRES_PASSWORD", mode: "primary-standby",
	streaming: {primary: "s0", replicationPassword: "env:REPLICATION_PASSWORD", witness: "10.200.255.254",
		synchronous: true, synchronousStandbyNames: ["s1"], standbys: [
`)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "\t\t{site: \"s%d\", applicationName: \"s%d\", slot: \"s%d\"},\n", i, i, i)
	}
	b.WriteString(`	]}}
vip: {address: "10.200.255.100", routerId: 51, priorities: {s0: 150, s1: 100}, auth: "env:VRRP_AUTH_PASS"}
proxy: {fronts: "database", port: 5000, servers: [{site: "s0"}, {site: "s1", backup: true}],
	stats: {port: 8404, password: "env:HAPROXY_STATS_PASSWORD"}}
`)
	clients(&b, n, "ps.test", "10.200.255.53")
	b.WriteString(`services: app: {image: "example/app:1", ports: [{published: 8080, target: 8080}], secrets: DB_PASSWORD: "env:POSTGRES_PASSWORD"}
security: allowedClients: ["10.200.0.0/16"]
`)
	return []byte(b.String())
}

func clients(b *strings.Builder, n int, domain, nameserver string) {
	fmt.Fprintf(b, "clients: {url: \"grpc://%s:8001\", reconnectDelay: 5, nameserver: %q, servers: [\n", domain, nameserver)
	for i := 0; i < n; i++ {
		fmt.Fprintf(b, "\t{name: \"%d.%s\", site: \"s%d\"},\n", i, domain, i)
	}
	b.WriteString("]}\n")
}
