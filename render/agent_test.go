package render_test

import (
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/hagen-ha/hagen/contract"
)

// The agent reads no secret and runs as its own user; the database shares
// its socket with it and admits the agent's role by peer over it.
func TestAgentLeastPrivilege(t *testing.T) {
	tree := renderSpec(t, psExample)
	for _, site := range []string{"db0", "db1"} {
		p := site + "/docker-compose.yaml"
		project, err := loadCompose(p, tree[p].Data, secretEnv(string(tree[p].Data)))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		agent, pg := project.Services["hagen-agent"], project.Services["postgres"]
		if agent.User != "7432:7432" {
			t.Errorf("%s: hagen-agent runs as %q, want 7432:7432", p, agent.User)
		}
		if len(agent.Secrets) > 0 {
			t.Errorf("%s: hagen-agent gets Docker secrets %v", p, agent.Secrets)
		}
		for k := range agent.Environment {
			if k != "HAGEN_SITE" {
				t.Errorf("%s: hagen-agent gets %s; it reads no secret", p, k)
			}
		}
		mounts := func(name string, vols []types.ServiceVolumeConfig) string {
			for _, v := range vols {
				if v.Source == "pgsocket" {
					return v.Target + map[bool]string{true: " ro", false: " rw"}[v.ReadOnly]
				}
			}
			return name + " does not mount pgsocket"
		}
		if got := mounts("hagen-agent", agent.Volumes); got != "/var/run/postgresql ro" {
			t.Errorf("%s: hagen-agent: %s", p, got)
		}
		if got := mounts("postgres", pg.Volumes); got != "/var/run/postgresql rw" {
			t.Errorf("%s: postgres: %s", p, got)
		}

		entry := file(t, tree, site+"/postgres/entrypoint.sh")
		mustContain(t, site+"/postgres/entrypoint.sh", entry,
			"useradd --uid \"$agent_uid\" --user-group --no-create-home --shell /usr/sbin/nologin \"$agent_user\"",
			"readonly agent_uid=7432\n",
			"ln -sfn .s.PGSQL.5432 /var/run/postgresql/.s.PGSQL.5444\n")
		// The role is created with the cluster on the primary; a standby
		// gets it by replication.
		if got := strings.Contains(entry, contract.AgentRoleSQL()); got != (site == "db0") {
			t.Errorf("%s: entrypoint.sh creates the agent's role: %v", site, got)
		}
		notify := file(t, tree, site+"/keepalived/notify.sh")
		mustContain(t, site+"/keepalived/notify.sh", notify, contract.AgentRoleSQL(), "-d postgres")
		if n := strings.Count(notify, "\t\tagent_role\n"); n != 2 {
			t.Errorf("%s: notify.sh runs agent_role %d times, want after each way to the writable primary", site, n)
		}

		unit := file(t, tree, site+"/systemd/hagen-primary-standby-agent.service")
		u, err := parseSystemdUnit(unit)
		if err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]string{
			"User": "hagen_agent", "Group": "hagen_agent", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
			"CapabilityBoundingSet": "", "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
			"ExecStart": "/usr/local/bin/hagen agent --config /etc/hagen/agent/agent.json",
		} {
			if got, ok := u["Service"][k]; !ok || len(got) != 1 || got[0] != want {
				t.Errorf("%s: agent unit %s = %q, want %q", site, k, got, want)
			}
		}
		if _, ok := u["Service"]["EnvironmentFile"]; ok {
			t.Errorf("%s: the agent unit loads the env file:\n%s", site, unit)
		}
		mustContain(t, site+"/systemd/postgres-prepare.sh", file(t, tree, site+"/systemd/postgres-prepare.sh"),
			"useradd --system --user-group --no-create-home --shell /usr/sbin/nologin hagen_agent")
	}
	// Multi-master runs no agent: nothing of it in the database's files.
	mm := renderSpec(t, "../examples/dual-site.cue")
	for _, p := range mm.Paths() {
		if strings.Contains(string(mm[p].Data), contract.AgentRole) {
			t.Errorf("multi-master %s names %s", p, contract.AgentRole)
		}
	}
}
