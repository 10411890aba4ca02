package render_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// notifyProg is a bash program made of db1's notify.sh functions named,
// with the shell stand-ins given before them, run under the script's own
// errexit and pipefail; the witness check always answers.
func notifyProg(t *testing.T, standIns string, funcs ...string) string {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script := file(t, renderSpec(t, psExample), "db1/keepalived/notify.sh")
	parts := []string{"set -euo pipefail", shellArray(t, script, "peers"), standIns}
	for _, f := range funcs {
		parts = append(parts, shellFunction(t, script, f))
	}
	return strings.ReplaceAll(strings.Join(parts, "\n"), "/etc/hagen/keepalived/witness.sh", "true")
}

// ipStandIn prints ip -o addr show's lines with the VIP line (when vip is
// set) in the middle, and more after a pause: a reader that stops at the
// VIP line (grep -q) makes a pipe's writer fail under pipefail.
func ipStandIn(vip string) string {
	line := ""
	if vip != "" {
		line = `echo "2: eth0    inet ` + vip + ` scope global secondary eth0\       valid_lft forever preferred_lft forever"`
	}
	return `ip() {
	echo "1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever"
	echo "2: eth0    inet 10.232.0.12/24 brd 10.232.0.255 scope global eth0\       valid_lft forever preferred_lft forever"
	` + line + `
	sleep 0.2
	for i in $(seq 1 200); do echo "3: eth1    inet6 fe80::$i/64 scope link \       valid_lft forever preferred_lft forever"; done
}`
}

// A MASTER that notify.sh handles after the node lost the VIP again (two
// nodes both MASTER for a moment after a FAULT, notify.sh behind
// keepalived) must change no database: it would fence the peer that holds
// the VIP now and promote a second primary. With the VIP here it fences
// the peer's writable primary and promotes.
func TestNotifyMasterActsOnlyWhileMaster(t *testing.T) {
	standIns := `log() { echo "log: $*" >&2; }
role() { case $1 in 127.0.0.1) echo "standby 0" ;; *) echo "primary 1" ;; esac; }
fence() { echo "FENCE $1"; }
catch_up() { :; }
promote_local() { echo PROMOTE; }
follow_here() { :; }
apply_sync_policy() { :; }
unfence_local() { echo UNFENCE; }
agent_role() { :; }`
	for _, tc := range []struct {
		name, vip, want string
		ok              bool
	}{
		{"the VIP is here", "10.232.0.100/24", "FENCE 10.232.0.11\nPROMOTE", true},
		{"the VIP is gone", "", "", false},
		{"only an address that starts like the VIP", "10.232.0.10/24", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog := notifyProg(t, standIns+"\n"+ipStandIn(tc.vip), "still_master", "on_master") + "\non_master"
			out, err := exec.Command("bash", "-c", prog).Output()
			if (err == nil) != tc.ok {
				t.Errorf("on_master: err %v, want success %v; stderr:\n%s", err, tc.ok, stderrOf(err))
			}
			if got := strings.TrimSpace(string(out)); got != tc.want {
				t.Errorf("on_master did %q, want %q", got, tc.want)
			}
			if stale := strings.Contains(stderrOf(err), "is stale; not acting on it"); stale == tc.ok {
				t.Errorf("on_master logged a stale MASTER: %v, want %v; stderr:\n%s", stale, !tc.ok, stderrOf(err))
			}
		})
	}
}

// A FAULT fences the local primary; it becomes writable again only when no
// peer can take over: a peer that answers as a standby takes the VIP and
// is promoted, and a local primary made writable meanwhile races that
// promotion (two writable primaries).
func TestNotifyFaultStaysFencedWhileAPeerTakesOver(t *testing.T) {
	for _, tc := range []struct{ peer, want string }{
		{"standby 0", "FENCE 127.0.0.1"},
		{"down 0", "FENCE 127.0.0.1\nUNFENCE"},
	} {
		t.Run(tc.peer, func(t *testing.T) {
			standIns := `log() { echo "log: $*" >&2; }
role() { case $1 in 127.0.0.1) echo "primary 1" ;; *) echo "` + tc.peer + `" ;; esac; }
fence() { echo "FENCE $1"; }
unfence_local() { echo UNFENCE; }`
			prog := notifyProg(t, standIns, "newer_peer", "on_fault") + "\non_fault FAULT"
			out, err := exec.Command("bash", "-c", prog).Output()
			if err != nil {
				t.Fatalf("on_fault: %v\n%s", err, stderrOf(err))
			}
			if got := strings.TrimSpace(string(out)); got != tc.want {
				t.Errorf("peer %s: on_fault did %q, want %q", tc.peer, got, tc.want)
			}
		})
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// check.sh fails on a standby that holds the VIP while a peer runs the
// writable primary (the VIP goes back to the primary) and on a primary
// whose peer runs a primary on a later timeline (a stale primary), and
// passes otherwise.
func TestCheckStandbyWithTheVIPAndStalePrimary(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script := file(t, renderSpec(t, psExample), "db1/keepalived/check.sh")
	agent := func(role string, tl int) string {
		return fmt.Sprintf(`{\n  "site": "x",\n  "role": "%s",\n  "writable": true,\n  "timeline": %d,\n  "replicas": []\n}\n`, role, tl)
	}
	for _, tc := range []struct {
		name, local, peer, vip, fails string
	}{
		{"a standby with the VIP, the peer writable", agent("standby", 1), agent("primary", 1), "10.232.0.100/24", "runs the writable primary"},
		{"a standby without the VIP", agent("standby", 1), agent("primary", 1), "", ""},
		{"a standby with the VIP, the peer fenced", agent("standby", 1), agent("fenced", 1), "10.232.0.100/24", ""},
		{"a primary, the peer fenced on a later timeline", agent("primary", 2), agent("fenced", 3), "10.232.0.100/24", "stale primary: 10.232.0.11 runs a fenced primary on timeline 3, this node is on 2"},
		{"a primary, the peer fenced on an earlier timeline", agent("primary", 3), agent("fenced", 2), "10.232.0.100/24", ""},
		{"a primary, the peer a standby", agent("primary", 1), agent("standby", 1), "10.232.0.100/24", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			standIns := `pg_isready() { return 0; }
curl() {
	case "$*" in
	*127.0.0.1*) printf '` + tc.local + `' ;;
	*) printf '` + tc.peer + `' ;;
	esac
}
` + ipStandIn(tc.vip) + `
export -f pg_isready curl ip`
			cmd := exec.Command("bash", "-c", standIns+"\nexec bash -s", "bash")
			cmd.Stdin = strings.NewReader(script)
			out, err := cmd.CombinedOutput()
			if (err != nil) != (tc.fails != "") {
				t.Errorf("check.sh: err %v, want failure %v\n%s", err, tc.fails != "", out)
			}
			if !strings.Contains(string(out), tc.fails) {
				t.Errorf("check.sh says %q, want %q", out, tc.fails)
			}
		})
	}
}

// Before its promotion a standby waits until it has replayed what each
// other standby received: a standby ahead of the new timeline's start
// could not follow it. It asks again until it has (here on the third
// try), and not the standbys that did not answer.
func TestNotifyCatchesUpWithTheOtherStandbys(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script := file(t, renderSpec(t, "../examples/quorum.cue"), "db1/keepalived/notify.sh")
	prog := strings.Join([]string{
		"set -euo pipefail", shellArray(t, script, "peers"),
		`log() { echo "log: $*"; }`,
		`tries=$(mktemp)`,
		`trap 'rm -f "$tries"' EXIT`,
		`sql() {
	case "$1:$2" in
	10.233.0.13:*"greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())"*) echo 0/60C5960 ;;
	10.233.0.11:*) echo "db0 asked" >&2; exit 1 ;;
	127.0.0.1:*"'0/60C5960'"*) echo x >>"$tries"; if [ "$(wc -l <"$tries")" -ge 3 ]; then echo t; else echo f; fi ;;
	*) echo "unexpected: $*" >&2; exit 1 ;;
	esac
}`,
		`sleep() { :; }`,
		shellFunction(t, script, "catch_up_standbys"),
		`standbys_up=" db2 "`,
		`catch_up_standbys 10`,
		`echo "tries $(wc -l <"$tries")"`,
	}, "\n")
	out, err := exec.Command("bash", "-c", prog).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "log: has everything db2 received (up to 0/60C5960)\ntries 3"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("catch_up_standbys:\n%s\nwant\n%s", got, want)
	}
	// With the old primary down nothing more arrives: one look, no wait.
	prog0 := strings.Replace(strings.Replace(prog, "`catch_up_standbys 10`", "", 1), "catch_up_standbys 10\n", "catch_up_standbys 0\n", 1)
	out, err = exec.Command("bash", "-c", prog0).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := string(out); !strings.Contains(got, "WARNING: db2 received WAL up to 0/60C5960, which this node lacks after 0 s") || !strings.HasSuffix(got, "tries 1\n") {
		t.Errorf("catch_up_standbys 0:\n%s", got)
	}
	// Before the promotion: catch_up_standbys, follow_here, catch_up_standbys.
	m := shellFunction(t, script, "on_master")
	c1, f, p := strings.Index(m, "\t\tcatch_up_standbys \"$old_alive\"\n"), strings.Index(m, "\t\tfollow_here\n"), strings.Index(m, "\t\tpromote_local\n")
	c2 := strings.LastIndex(m, "\t\tcatch_up_standbys \"$old_alive\"\n")
	if c1 < 0 || f < c1 || c2 < f || p < c2 {
		t.Errorf("on_master: catch_up_standbys at %d, follow_here at %d, catch_up_standbys at %d, promote_local at %d; want them in that order", c1, f, c2, p)
	}
}
