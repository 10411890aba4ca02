package contract_test

import (
	"bytes"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/render"
	"github.com/hagen-ha/hagen/schema"
)

// Every contract file of every example and built-in topology decodes
// strictly and encodes back to the same bytes: no field is written that
// the readers drop, and none is read that render does not write.
func TestRenderedContractFilesRoundTrip(t *testing.T) {
	specs, _ := filepath.Glob("../examples/*.cue")
	tops, _ := filepath.Glob("../topologies/*.cue")
	specs = append(specs, tops...)
	if len(specs) < 4 {
		t.Fatalf("found only %d specs", len(specs))
	}
	for _, spec := range specs {
		topo, _, err := schema.Load(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		tree, err := render.Render(topo)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		seen := map[string]int{}
		for _, p := range tree.Paths() {
			data := tree[p].Data
			var v any
			var err error
			switch {
			case p == contract.InventoryFile:
				v, err = contract.ParseInventory(p, data)
			case p == contract.ClientSettingsFile:
				v, err = contract.ParseClientSettings(p, data)
			case strings.HasSuffix(p, "/"+contract.AgentConfigFile) && strings.Count(p, "/") == 2:
				v, err = contract.ParseAgentConfig(p, data)
			default:
				continue
			}
			seen[path.Base(p)]++
			if err != nil {
				t.Errorf("%s: %s: %v", spec, p, err)
				continue
			}
			again, err := contract.Encode(v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, data) {
				t.Errorf("%s: %s does not round-trip:\n%s\nvs\n%s", spec, p, data, again)
			}
		}
		if seen["inventory.json"] != 1 || seen["client.json"] != 1 {
			t.Errorf("%s: contract files found %v", spec, seen)
		}
		if topo.Database.Streaming != nil && seen["agent.json"] == 0 {
			t.Errorf("%s: primary-standby without agent.json", spec)
		}
	}
}

func TestDecodersAreStrict(t *testing.T) {
	cases := []struct {
		name, data, want string
		parse            func(string, []byte) error
	}{
		{"unknown field", `{"name": "x", "sitez": []}`, `x.json: json: unknown field "sitez"`, inventory},
		{"trailing value", `{"url":"u","servers":0,"names":[],"reconnectDelaySeconds":5,"selection":"","test":false} {}`, "data after the top-level value", clients},
		{"syntax", "{\n \"url\" 1}", "x.json:2:8: invalid character '1'", clients},
		{"content", `{"url":"","servers":1,"names":[],"reconnectDelaySeconds":0,"selection":"","test":false}`,
			"x.json: url is empty; servers is 1 but names has 0 entries; reconnectDelaySeconds 0 must be at least 1", clients},
		{"inventory content", `{"name":"n","spec":"","test":false,"domain":"d","nameserver":"1.2.3","nodeImage":"","installDir":"","mode":"m",
			"database":{"name":"db","service":"postgres","port":5432,"publishedPort":0,"superuser":"postgres"},
			"sites":[{"name":"a","index":0,"host":"h","address":"10.0.0.1","lan":"10.0.0.0/24","dir":"a","services":[]}],
			"clients":{"url":"u","names":["0.d"],"sites":["b"],"reconnectDelay":5,"port":0}}`,
			`nameserver "1.2.3" is not an IP address; database.publishedPort 0 is not a port; clients.sites[0] "b" is not a site`, inventory},
		{"agent content", `{"site":"db0","listen":"8008","database":{"host":"h","port":1,"user":"u","name":"n","sslmode":"maybe","passwordEnv":"P","passwordFileEnv":"","connectTimeoutSeconds":0},"peers":[],"streaming":{"primary":"db0","synchronous":true,"synchronousStandbyNames":[],"onStandbyDown":"sometimes","standbyNames":{},"failoverAfterSeconds":3}}`,
			`listen: address 8008: missing port in address; database.connectTimeoutSeconds 0 must be at least 1; database.sslmode "maybe" is not a libpq sslmode; streaming.onStandbyDown "sometimes" is neither block nor async`, agent},
	}
	for _, c := range cases {
		err := c.parse("x.json", []byte(c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func inventory(n string, d []byte) error { _, err := contract.ParseInventory(n, d); return err }
func clients(n string, d []byte) error   { _, err := contract.ParseClientSettings(n, d); return err }
func agent(n string, d []byte) error     { _, err := contract.ParseAgentConfig(n, d); return err }
