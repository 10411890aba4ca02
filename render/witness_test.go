package render_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// witness.sh, run by bash with ping replaced by a stub that answers for
// some addresses: a node is isolated (exit 1) when fewer than a majority
// of the witnesses answer.
func TestWitnessMajority(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	tree := renderSpec(t, "../examples/quorum.cue")
	script := file(t, tree, "db1/keepalived/witness.sh")
	mustContain(t, "db1/keepalived/witness.sh", script, "witnesses=(10.233.0.252 10.233.0.253 10.233.0.254)\n", "need=2\n")
	dir := t.TempDir()
	stub := filepath.Join(dir, "ping")
	// The stub answers for the addresses listed in $UP.
	if err := os.WriteFile(stub, []byte("#!/bin/bash\nfor a; do :; done\ncase \" $UP \" in *\" $a \"*) exit 0 ;; esac\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(script, "/usr/bin/ping ") {
		t.Fatal("witness.sh does not run /usr/bin/ping")
	}
	path := filepath.Join(dir, "witness.sh")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(script, "/usr/bin/ping ", stub+" ")), 0o755); err != nil {
		t.Fatal(err)
	}
	for up, isolated := range map[string]bool{
		"10.233.0.252 10.233.0.253 10.233.0.254": false,
		"10.233.0.252 10.233.0.254":              false,
		"10.233.0.253":                           true,
		"":                                       true,
	} {
		cmd := exec.Command("bash", path)
		cmd.Env = append(os.Environ(), "UP="+up)
		out, err := cmd.CombinedOutput()
		if got := err != nil; got != isolated {
			t.Errorf("witnesses up %q: isolated = %v, want %v\n%s", up, got, isolated, out)
		}
		if isolated && !strings.Contains(string(out), "fewer than 2: this node is isolated") {
			t.Errorf("witnesses up %q: %s", up, out)
		}
	}
	// A witness that does not answer costs a whole ping wait, which is
	// keepalived's timeout of the script: with a majority answering, the
	// script must not wait for it. The stub for a lost witness hangs; the
	// script returns once two answered (the context only ends a hang).
	if err := os.WriteFile(stub, []byte("#!/bin/bash\nfor a; do :; done\ncase \" $UP \" in *\" $a \"*) exit 0 ;; esac\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", path)
	cmd.Env = append(os.Environ(), "UP=10.233.0.252 10.233.0.254")
	cmd.WaitDelay = time.Second
	if out, err := cmd.CombinedOutput(); err != nil || ctx.Err() != nil {
		t.Errorf("one witness hanging, two answering: %v (%v)\n%s", err, ctx.Err(), out)
	}
	conf := file(t, tree, "db1/keepalived/keepalived.conf")
	mustContain(t, "db1/keepalived/keepalived.conf", conf, `script "/etc/hagen/keepalived/witness.sh"`, "        hagen_witness\n")
	notify := file(t, tree, "db1/keepalived/notify.sh")
	mustContain(t, "db1/keepalived/notify.sh", notify, "if ! /etc/hagen/keepalived/witness.sh; then")
}
