package render_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPatroniOnRoleChange runs the rendered on_role_change.sh with a
// stand-in for curl that answers Patroni's GET /patroni (many lines after
// the one that matters, so that a reader that stops at the match breaks
// the writer's pipe): a
// primary with a streaming standby leaves no mark, one without leaves
// it, and a replica removes it.
func TestPatroniOnRoleChange(t *testing.T) {
	tree := renderSpec(t, patroniExample)
	script := []byte(file(t, tree, "db0/patroni/on_role_change.sh"))
	const mark = "/run/hagen/patroni/promoted-alone"
	state := t.TempDir()
	local := filepath.Join(state, "promoted-alone")
	if !bytes.Contains(script, []byte(mark)) {
		t.Fatalf("on_role_change.sh no longer names %s", mark)
	}
	path := filepath.Join(state, "on_role_change.sh")
	if err := os.WriteFile(path, bytes.ReplaceAll(script, []byte(mark), []byte(local)), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(state, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	curl := `#!/usr/bin/env bash
printf '{"state": "running", "role": "master", "replication": [{"application_name": "db1", "state": "%s"}],\n' "$REPLICATION_STATE"
for _ in $(seq 1 5000); do
	printf '"padding": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",\n'
done
printf '"end": 1}\n'
`
	if err := os.WriteFile(filepath.Join(bin, "curl"), []byte(curl), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		role, replication string
		marked, want      bool
	}{
		{"master", "streaming", false, false},
		{"master", "startup", false, true},
		{"primary", "streaming", true, true}, // an earlier mark stays: the agent removes it
		{"replica", "streaming", true, false},
	} {
		_ = os.Remove(local)
		if tc.marked {
			if err := os.WriteFile(local, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command("bash", path, "on_role_change", tc.role, "patroni")
		cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "REPLICATION_STATE=" + tc.replication}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("on_role_change.sh %s (%s): %v\n%s", tc.role, tc.replication, err, out)
		}
		_, err := os.Stat(local)
		if got := err == nil; got != tc.want {
			t.Errorf("on_role_change.sh %s with a standby %s (marked before: %v): mark %v, want %v", tc.role, tc.replication, tc.marked, got, tc.want)
		}
	}
}
