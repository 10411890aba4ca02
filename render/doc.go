// Package render turns a validated Topology into the files of a
// deployment. It is pure: Topology in, a Tree of path → bytes out. It never
// writes files, prints or reads the clock; only the CLI writes, atomically.
//
// # Components
//
// A concern of the deployment is one component (component.go), in its own
// file, registered once in the components list:
//
//	lib.go         the shell library every script sources
//	etcd.go        etcd, Patroni's consensus store (also on witness sites)
//	postgres.go    PostgreSQL: postgresql.conf, pg_hba.conf, pg_ident.conf, entrypoint
//	tls.go         the TLS material between the sites (security.tls)
//	patroni.go     Patroni, when it manages failover (manager "patroni")
//	streaming.go   streaming replication: role.sh and the replication facts
//	bucardo.go     Bucardo multi-master replication
//	agent.go       hagen's agent (primary-standby)
//	keepalived.go  the keepalived virtual IP (keepalived_patroni.go: following Patroni)
//	haproxy.go     HAProxy
//	apps.go        the spec's application services
//	clients.go     client DNS zone, hosts fragment, named.conf, client.json
//
// For each site (site) and for the whole deployment (tree) a component
// declares:
//
//   - its files, from templates in templates/, a folder that mirrors the
//     rendered tree (templates/site/postgres/postgresql.conf.tmpl renders
//     <site>/postgres/postgresql.conf), each with the contract.Reader that
//     reads it in production ("haproxy -c", "postgres pg_hba_file_rules",
//     "bash -n, shellcheck", …);
//   - its processes, each as one neutral service description (image,
//     entrypoint or command, environment, the secrets it reads under which
//     variable, mounts of concern directories, volumes, ports, host
//     network, capabilities, health check, dependencies, stop signal, and
//     how it runs natively under systemd);
//   - the Debian packages its processes need (packages), on a native host
//     and in the node image (NodePackages);
//   - its inventory.json facts, its RUNBOOK facts and sections, and the
//     firewall ports it opens;
//   - the RTO budgets of the failover paths it owns (budgets.go), from
//     the timers its files render.
//
// # Assemblers
//
// Files made of every component's declarations are written by assemblers
// that loop over what the components declared and name none of them:
//
//	compose.go      <site>/docker-compose.yaml from the services
//	systemd.go      <site>/systemd/*.service from the same services
//	envtemplate.go  <site>/hagen.env.template from the services' secrets
//	runbook.go      RUNBOOK.md: a frame and the components' sections
//	inventory.go    inventory.json, with every file and its reader
//
// Adding a concern is one new file (plus its templates and a schema field)
// and one line in components.
//
// # Escaping
//
// escape.go holds one escaping function per output format (compose,
// systemd, shell, HAProxy, keepalived, postgresql.conf, Markdown, file
// headers); every spec string reaches a file only through it, through an
// encoder (YAML, JSON), or not at all. Templates run with missingkey=error over precomputed
// views; the only functions they call are those escapers.
package render
