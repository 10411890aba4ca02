package render_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"cuelang.org/go/cue/errors"

	"github.com/hagen-ha/hagen/render"
	"github.com/hagen-ha/hagen/schema"
)

const psExample = "../examples/primary-standby.cue"

// renderEdited renders spec after replacing each old string with its new
// one; every old string must occur, so the test notices when the example
// drifts away from what it edits.
func renderEdited(t *testing.T, spec string, edits ...string) render.Tree {
	t.Helper()
	data, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(src, edits[i]) {
			t.Fatalf("%s no longer contains %q", spec, edits[i])
		}
		src = strings.Replace(src, edits[i], edits[i+1], 1)
	}
	top, _, err := schema.Parse(filepath.Base(spec), []byte(src))
	if err != nil {
		t.Fatalf("edited %s: %s", spec, errors.Details(err, nil))
	}
	tree, err := render.Render(top)
	if err != nil {
		t.Fatalf("render edited %s: %v", spec, err)
	}
	return tree
}

func file(t *testing.T, tree render.Tree, p string) string {
	t.Helper()
	f, ok := tree[p]
	if !ok {
		t.Fatalf("%s is not rendered", p)
	}
	return string(f.Data)
}

func mustContain(t *testing.T, name, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q", name, w)
		}
	}
}

func TestKeepalivedConf(t *testing.T) {
	tree := renderSpec(t, psExample)
	for _, c := range []struct {
		site, prio, src, peer string
	}{
		{"db0", "150", "10.232.0.11", "10.232.0.12"},
		{"db1", "100", "10.232.0.12", "10.232.0.11"},
	} {
		p := c.site + "/keepalived/keepalived.conf"
		conf := file(t, tree, p)
		mustContain(t, p, conf,
			"router_id "+c.site+"\n",
			"enable_script_security\n",
			"script_user root\n",
			"state BACKUP\n",
			"nopreempt\n",
			"interface eth0\n",
			"virtual_router_id 51\n",
			"priority "+c.prio+"\n",
			"advert_int 1\n",
			"unicast_src_ip "+c.src+"\n",
			"unicast_peer {\n        "+c.peer+"\n    }",
			"include /run/hagen/keepalived/auth.conf\n",
			"10.232.0.100/24 dev eth0\n",
			`script "/etc/hagen/keepalived/check.sh"`,
			`script "/etc/hagen/keepalived/witness.sh"`,
			"        hagen_database\n        hagen_witness\n        hagen_primary\n    }",
			`script "/usr/bin/curl -sf -o /dev/null -m 1 http://127.0.0.1:8008/primary"`,
			// 150 - 100 + 1: a writable primary on db1 (151) outranks db0 (150).
			"weight 51\n",
			"garp_master_refresh 5\n",
			// One reader handles the state changes in order.
			"vrrp_notify_fifo /run/hagen/keepalived/notify.fifo\n",
			`vrrp_notify_fifo_script "/etc/hagen/keepalived/notify.sh"`,
			// keepalived 2.2.7 overlaps runs with a timeout of one interval.
			"interval 1\n    timeout 3\n",
		)
		if strings.Contains(conf, "notify_master") || strings.Contains(conf, "timeout 1\n") {
			t.Errorf("%s: a notify script per state, or a track script timeout of one interval:\n%s", p, conf)
		}
		if strings.Contains(conf, "state MASTER") || strings.Contains(conf, "auth_pass") {
			t.Errorf("%s: a node starts as MASTER or the password is in the file:\n%s", p, conf)
		}
		for _, s := range []string{"run.sh", "check.sh", "notify.sh"} {
			if m := tree[c.site+"/keepalived/"+s].Mode; m != 0o755 {
				t.Errorf("%s/keepalived/%s has mode %v", c.site, s, m)
			}
		}
	}
	mustContain(t, "db0/keepalived/check.sh", file(t, tree, "db0/keepalived/check.sh"),
		"pg_isready -q -h 127.0.0.1 -p 5444")
	run := file(t, tree, "db0/keepalived/run.sh")
	mustContain(t, "db0/keepalived/run.sh", run,
		"rm -f \"$pidfile\"", "/run/keepalived*.pid /run/vrrp.pid",
		"pass=$(secret VRRP_AUTH_PASS)",
		"exec keepalived --dont-fork --log-console --vrrp -f \"$conf\"")
}

// Without vip.auth and witness, neither the include nor the second track
// script is rendered, and run.sh reads no secret.
func TestKeepalivedWithoutAuthOrWitness(t *testing.T) {
	tree := renderEdited(t, psExample,
		`	auth: "env:VRRP_AUTH_PASS"`+"\n", "",
		`		witness:    "10.232.0.254"`+"\n", "")
	conf := file(t, tree, "db0/keepalived/keepalived.conf")
	for _, no := range []string{"include", "hagen_witness", "ping", "witness.sh"} {
		if strings.Contains(conf, no) {
			t.Errorf("keepalived.conf mentions %q:\n%s", no, conf)
		}
	}
	if _, ok := tree["db0/keepalived/witness.sh"]; ok {
		t.Error("witness.sh is rendered without a witness")
	}
	if run := file(t, tree, "db0/keepalived/run.sh"); strings.Contains(run, "secret ") {
		t.Errorf("run.sh reads a secret without vip.auth:\n%s", run)
	}
}

// Which standbys a promoted node may keep synchronous: the spec's
// synchronous standbys other than itself (notify.sh keeps those that are up).
func TestNotifySyncCandidates(t *testing.T) {
	block := regexp.MustCompile(`(?m)^sync_standbys=\(\n((?:\t.*\n)*)\)$`)
	candidates := func(tree render.Tree, site string) string {
		t.Helper()
		m := block.FindStringSubmatch(file(t, tree, site+"/keepalived/notify.sh"))
		if m == nil {
			t.Fatalf("%s/keepalived/notify.sh has no sync_standbys array", site)
		}
		return strings.ReplaceAll(strings.TrimSpace(m[1]), "\n\t", " ")
	}
	two := renderSpec(t, psExample)
	if got := candidates(two, "db1"); got != "" {
		t.Errorf("two-node pair: db1 promoted may keep %q synchronous, want none", got)
	}
	if got := candidates(two, "db0"); got != "db1=db1" {
		t.Errorf("two-node pair: db0 promoted may keep %q, want db1=db1 (only while db1 answers as a standby)", got)
	}
	mustContain(t, "db1/keepalived/notify.sh", file(t, two, "db1/keepalived/notify.sh"),
		"synchronous=true\n", "on_standby_down=block\n")
	three := []string{
		`	{name: "db1", index: 1, host: "1.ps.test", address: "10.232.0.12", lan: "10.232.0.0/24"},`,
		`	{name: "db1", index: 1, host: "1.ps.test", address: "10.232.0.12", lan: "10.232.0.0/24"},
	{name: "db2", index: 2, host: "2.ps.test", address: "10.232.0.13", lan: "10.232.0.0/24"},`,
		`standbys: [{site: "db1", applicationName: "db1", slot: "db1"}]`,
		`standbys: [{site: "db1", applicationName: "db1", slot: "db1"}, {site: "db2", applicationName: "app2", slot: "db2"}]`,
		`priorities: {db0: 150, db1: 100}`,
		`priorities: {db0: 150, db1: 100, db2: 90}`,
	}
	tree := renderEdited(t, psExample, three...)
	if got := candidates(tree, "db1"); got != "db2=app2" {
		t.Errorf("three nodes: db1 promoted may keep %q, want db2=app2", got)
	}
	if got := candidates(tree, "db0"); got != "db1=db1 db2=app2" {
		t.Errorf("three nodes: db0 promoted may keep %q, want db1=db1 db2=app2", got)
	}
	mustContain(t, "db1/keepalived/notify.sh", file(t, tree, "db1/keepalived/notify.sh"), "\tdb0=10.232.0.11\n\tdb2=10.232.0.13\n")
	tree = renderEdited(t, psExample, append(three, `onStandbyDown:       "block"`, `onStandbyDown:       "async", acceptSplitBrainRisk: true`)...)
	mustContain(t, "db1/keepalived/notify.sh", file(t, tree, "db1/keepalived/notify.sh"), "on_standby_down=async\n")
}

// The rendered scripts are valid bash and shellcheck-clean, and no
// rendered file holds anything that looks like a secret value.
func TestKeepalivedHAProxyScriptsLint(t *testing.T) {
	tree := renderSpec(t, psExample)
	dir := t.TempDir()
	var scripts []string
	for _, p := range tree.Paths() {
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, tree[p].Data, tree[p].Mode); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(p, "/keepalived/") && strings.HasSuffix(p, ".sh") || strings.HasSuffix(p, "/haproxy/run.sh") {
			scripts = append(scripts, dst)
		}
	}
	if len(scripts) != 10 {
		t.Fatalf("found %d keepalived and haproxy scripts, want 10", len(scripts))
	}
	for _, s := range scripts {
		if out, err := exec.Command("bash", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", s, err, out)
		}
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck is not installed; bash -n passed")
	}
	args := append([]string{"-x", "-s", "bash"}, scripts...)
	if out, err := exec.Command("shellcheck", args...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}
