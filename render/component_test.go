package render

import (
	"strings"
	"testing"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/schema"
)

// poolComponent is a concern hagen does not have, a connection pooler:
// one file, one service with a secret of its own, a package, a firewall
// port, runbook facts. TestComponentRegistry adds it to the registry and
// nowhere else.
type poolComponent struct{}

func (poolComponent) packages() hostPackages {
	return hostPackages{Packages: []string{"pgbouncer"}, DistUnits: []string{"pgbouncer"}}
}

func (poolComponent) site(v *siteView) {
	v.d.b.add(v.path("pool/run.sh"), 0o755, contract.ReaderShell, []byte("#!/bin/sh\nexec pgbouncer /etc/hagen/pool/pgbouncer.ini\n"))
	v.service(&service{
		Name: "pool", Unit: "pool", Label: "pool", What: "connection pool", Runs: "PgBouncer", Product: "PgBouncer",
		Image: v.T.Render.NodeImage, Script: "pool/run.sh", Env: v.nodeEnv(),
		Secrets:   []secretUse{{"POOL_AUTH", schema.SecretRef("env:POOL_AUTH_PASSWORD")}},
		Mounts:    []string{"pool", "lib"},
		Ports:     []port{{Published: 6432, Target: 6432}},
		DependsOn: []dependency{{Service: v.T.Database.Service, Healthy: true}},
	})
	v.rb.Parts["pool"] = "port 6432"
}

func (poolComponent) tree(d *deployment) {
	d.port(rbPort{"6432/tcp", "PgBouncer", "clients"})
	d.rv.Parts["pool"] = true
}

// TestComponentRegistry: a component added to the registry alone reaches
// the compose file, the units, the env template, inventory.json and the
// RUNBOOK, through assemblers that do not know it.
func TestComponentRegistry(t *testing.T) {
	saved := components
	components = append(append([]component{}, saved...), poolComponent{})
	defer func() { components = saved }()

	top, _, err := schema.Load("../examples/dual-site.cue")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := Render(top)
	if err != nil {
		t.Fatal(err)
	}
	for p, wants := range map[string][]string{
		"site0/docker-compose.yaml": {"  pool:\n", "      - /etc/hagen/pool/run.sh\n", "POOL_AUTH: ${POOL_AUTH_PASSWORD:?set POOL_AUTH_PASSWORD in hagen.env}", "      - ./pool:/etc/hagen/pool:ro\n", "      - 6432:6432\n"},
		"site1/systemd/hagen-dual-site-pool.service": {"Description=hagen dual-site: connection pool on site site1\n",
			"After=network-online.target hagen-dual-site-postgres.service\n",
			"BindReadOnlyPaths=/opt/hagen/dual-site/site1/pool:/etc/hagen/pool\n",
			"ExecStart=/bin/sh -c \"export POOL_AUTH=\\\"$${POOL_AUTH_PASSWORD:?set POOL_AUTH_PASSWORD in hagen.env}\\\"; unset POSTGRES_PASSWORD POOL_AUTH_PASSWORD; exec \\\"$$@\\\"\" sh /opt/hagen/dual-site/site1/pool/run.sh\n"},
		"site1/hagen.env.template": {"# used as POOL_AUTH\nPOOL_AUTH_PASSWORD=\n"},
		"inventory.json":           {`"path": "site0/pool/run.sh",` + "\n      \"reader\": \"bash -n, shellcheck\"", `"pool"` + "\n      ]"},
		"RUNBOOK.md":               {"PostgreSQL, Bucardo and PgBouncer from the", "| 6432/tcp | PgBouncer | clients |", "apt-get install postgresql-15 docker.io pgbouncer", "systemctl disable --now postgresql pgbouncer", "`hagen-dual-site-pool.service`"},
	} {
		data := string(tree[p].Data)
		for _, w := range wants {
			if !strings.Contains(data, w) {
				t.Errorf("%s lacks %q", p, w)
			}
		}
	}
	if !strings.Contains(strings.Join(NodePackages(), " "), "pgbouncer") {
		t.Errorf("NodePackages() = %v lacks the new component's package", NodePackages())
	}
}
