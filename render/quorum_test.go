package render_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// shellFunction is the text of the function name in a rendered script:
// from "name() {" to the first line that is "}".
func shellFunction(t *testing.T, script, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?ms)^` + regexp.QuoteMeta(name) + `\(\) \{\n.*?^\}\n`).FindString(script)
	if m == "" {
		t.Fatalf("no function %s in the script", name)
	}
	return m
}

// shellVar is the line "name=..." of a rendered script.
func shellVar(t *testing.T, script, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `=.*$`).FindString(script)
	if m == "" {
		t.Fatalf("no variable %s in the script", name)
	}
	return m
}

// shellArray is the multi-line array "name=(" ... ")" of a rendered
// script.
func shellArray(t *testing.T, script, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?ms)^` + regexp.QuoteMeta(name) + `=\(\n.*?^\)\n`).FindString(script)
	if m == "" {
		t.Fatalf("no array %s in the script", name)
	}
	return m
}

// notify.sh's apply_sync_policy, run by bash with sql and log stubbed:
// after a promotion the new primary keeps the spec's method and count over
// the synchronous standbys that answered, as many as answered when fewer
// did, and none when none did.
func TestNotifyKeepsSyncMethodAndCount(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	tree := renderEdited(t, "../examples/quorum.cue", `synchronousCount:  1`, `synchronousCount:  2`)
	script := file(t, tree, "db0/keepalived/notify.sh")
	prog := strings.Join([]string{
		shellVar(t, script, "synchronous"),
		shellVar(t, script, "on_standby_down"),
		shellVar(t, script, "sync_method"),
		shellVar(t, script, "sync_count"),
		"sync_standbys=(db1=db1 db2=db2)",
		`log() { :; }`,
		`sql() { shift; printf '%s\n' "$1" >&2; }`,
		shellFunction(t, script, "apply_sync_policy"),
		`standbys_up=" $1 "`,
		`apply_sync_policy`,
	}, "\n")
	for up, want := range map[string]string{
		"db1 db2": `ALTER SYSTEM SET synchronous_standby_names = 'ANY 2 ("db1", "db2")'`,
		"db2":     `ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 ("db2")'`,
		"":        `ALTER SYSTEM SET synchronous_standby_names = ''`,
	} {
		out, err := exec.Command("bash", "-c", prog, "bash", up).CombinedOutput()
		if err != nil {
			t.Fatalf("standbys up %q: %v\n%s", up, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("standbys up %q: %s, want %s", up, got, want)
		}
	}
	for _, w := range []string{"sync_method=ANY", "sync_count=2"} {
		if !strings.Contains(script, "\n"+w+"\n") {
			t.Errorf("notify.sh lacks %s", w)
		}
	}
	conf := file(t, tree, "db0/postgres/postgresql.conf")
	if !strings.Contains(conf, `synchronous_standby_names = 'ANY 2 ("db1", "db2")'`) {
		t.Errorf("postgresql.conf of the primary:\n%s", conf)
	}
}
