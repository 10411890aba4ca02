package agent

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/render"
	"github.com/hagen-ha/hagen/schema"
)

// Every agent.json hagen renders for the examples and ready-made
// topologies decodes strictly into Config and passes its checks: render's
// copy of the fields and this package's stay the same.
func TestRenderedConfigsDecode(t *testing.T) {
	specs, _ := filepath.Glob("../../examples/*.cue")
	tops, _ := filepath.Glob("../../topologies/*.cue")
	specs = append(specs, tops...)
	found := 0
	for _, spec := range specs {
		top, _, err := schema.Load(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		tree, err := render.Render(top)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		for _, p := range tree.Paths() {
			if !strings.HasSuffix(p, "/agent/agent.json") {
				continue
			}
			found++
			cfg, err := contract.ParseAgentConfig(p, tree[p].Data)
			if err != nil {
				t.Errorf("%s: %v", spec, err)
				continue
			}
			site := strings.SplitN(p, "/", 2)[0]
			tcp := cfg.Database.Host == "127.0.0.1" && cfg.Database.Port == top.Database.PublishedPort
			socket := strings.HasPrefix(cfg.Database.Host, "/") && (cfg.Database.Port == top.Database.Port || cfg.Database.Port == top.Database.PublishedPort)
			if cfg.Site != site || !tcp && !socket {
				t.Errorf("%s: %s = %+v", spec, p, cfg)
			}
			// Every other site with a database: an HAProxy host has no
			// agent.
			if len(cfg.Peers) != len(top.DatabaseSites())-1 {
				t.Errorf("%s: %s lists %d peers for %d sites with a database", spec, p, len(cfg.Peers), len(top.DatabaseSites()))
			}
			if (cfg.Patroni != nil) != top.ManagedByPatroni() || cfg.Patroni != nil && cfg.Listen != "" {
				t.Errorf("%s: %s: patroni section %+v, listen %q; Patroni manages the database: %v", spec, p, cfg.Patroni, cfg.Listen, top.ManagedByPatroni())
			}
		}
	}
	if found == 0 {
		t.Fatal("no example renders an agent.json")
	}
}

func TestConfigRejects(t *testing.T) {
	good := `{"site":"db0","listen":":8008","database":{"host":"127.0.0.1","port":5444,"user":"postgres","name":"orders","sslmode":"disable","passwordEnv":"POSTGRES_PASSWORD","passwordFileEnv":"POSTGRES_PASSWORD_FILE","connectTimeoutSeconds":2},"peers":[],"streaming":{"primary":"db0","synchronous":true,"synchronousStandbyNames":["db1"],"onStandbyDown":"block"}}`
	if _, err := contract.ParseAgentConfig("good", []byte(good)); err != nil {
		t.Fatalf("good config: %v", err)
	}
	cases := map[string]string{
		"unknown field":        strings.Replace(good, `"site"`, `"sites":1,"site"`, 1),
		"no port":              strings.Replace(good, `"port":5444`, `"port":0`, 1),
		"bad listen":           strings.Replace(good, `":8008"`, `"8008"`, 1),
		"bad sslmode":          strings.Replace(good, `"disable"`, `"off"`, 1),
		"no password over TCP": strings.Replace(strings.Replace(good, `"POSTGRES_PASSWORD"`, `""`, 1), `"POSTGRES_PASSWORD_FILE"`, `""`, 1),
		"listen on a name":     strings.Replace(good, `":8008"`, `"localhost:8008"`, 1),
		"bad alsoListen":       strings.Replace(good, `"listen":":8008"`, `"listen":":8008","alsoListen":["127.0.0.1"]`, 1),
		"bad allowFrom":        strings.Replace(good, `"listen":":8008"`, `"listen":":8008","allowFrom":["10.0.0.1"]`, 1),
	}
	// Peer authentication over the socket: no password, a socket directory.
	peer := strings.Replace(strings.Replace(good, `"passwordEnv":"POSTGRES_PASSWORD","passwordFileEnv":"POSTGRES_PASSWORD_FILE",`, "", 1), `"host":"127.0.0.1"`, `"host":"/run/hagen/pgsocket"`, 1)
	peer = strings.Replace(peer, `"listen":":8008"`, `"listen":"10.0.0.11:8008","alsoListen":["127.0.0.1:8008"],"allowFrom":["127.0.0.1/32","10.0.0.0/24"]`, 1)
	if _, err := contract.ParseAgentConfig("peer", []byte(peer)); err != nil {
		t.Errorf("peer config: %v", err)
	}
	// With Patroni the agent serves nothing: no listen address.
	withPatroni := strings.Replace(good, `"listen":":8008",`, `"listen":"",`, 1)
	withPatroni = strings.TrimSuffix(withPatroni, "}") + `,"patroni":{"api":"http://10.0.0.11:8008","user":"hagen","passwordEnv":"RESTAPI_PASSWORD","promotedAloneMark":"/run/hagen/patroni/promoted-alone","intervalMs":500}}`
	if _, err := contract.ParseAgentConfig("patroni", []byte(withPatroni)); err != nil {
		t.Errorf("patroni config: %v", err)
	}
	cases["patroni: no API URL"] = strings.Replace(withPatroni, `"http://10.0.0.11:8008"`, `"10.0.0.11:8008"`, 1)
	cases["patroni: relative mark"] = strings.Replace(withPatroni, `"/run/hagen/patroni/promoted-alone"`, `"promoted-alone"`, 1)
	cases["patroni: no password variable"] = strings.Replace(withPatroni, `"RESTAPI_PASSWORD"`, `""`, 1)
	cases["patroni: interval 0"] = strings.Replace(withPatroni, `"intervalMs":500`, `"intervalMs":0`, 1)
	cases["no listen without patroni"] = strings.Replace(good, `"listen":":8008",`, `"listen":"",`, 1)
	for name, src := range cases {
		if _, err := contract.ParseAgentConfig(name, []byte(src)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPassword(t *testing.T) {
	d := contract.AgentDatabase{PasswordEnv: "HAGEN_TEST_PW", PasswordFileEnv: "HAGEN_TEST_PW_FILE"}
	t.Setenv("HAGEN_TEST_PW", "")
	t.Setenv("HAGEN_TEST_PW_FILE", "")
	if _, err := d.Password(); err == nil {
		t.Error("no password set, but no error")
	}
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HAGEN_TEST_PW_FILE", file)
	if pw, err := d.Password(); err != nil || pw != "from-file" {
		t.Errorf("password from file = %q, %v", pw, err)
	}
	t.Setenv("HAGEN_TEST_PW", "from-env")
	if pw, err := d.Password(); err != nil || pw != "from-env" {
		t.Errorf("password from env = %q, %v", pw, err)
	}
}

// Run serves on the configured address and stops when its context ends;
// with no database behind it, /primary says 503 and /health unreachable.
func TestRunServesAndStops(t *testing.T) {
	t.Setenv("HAGEN_TEST_PW", "x")
	cfg := `{"site":"db0","listen":"127.0.0.1:0","database":{"host":"127.0.0.1","port":1,"user":"postgres","name":"orders","sslmode":"disable","passwordEnv":"HAGEN_TEST_PW","passwordFileEnv":"","connectTimeoutSeconds":1},"peers":[],"streaming":{"primary":"db0","synchronous":false,"synchronousStandbyNames":[],"onStandbyDown":"block"}}`
	path := filepath.Join(t.TempDir(), "agent.json")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, path, pw)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("no output: %v", <-done)
	}
	first := lines.Text()
	_, addr, ok := strings.Cut(first, " on ")
	addr, _, _ = strings.Cut(addr, " ")
	if !ok || addr == "" {
		t.Fatalf("first line does not name the address: %q", first)
	}
	go func() { // keep the pipe drained
		for lines.Scan() {
		}
	}()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/primary")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/primary without a database = %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop after its context ended")
	}
}
