package render_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const patroniExample = "../examples/patroni.cue"

// The stand-ins the lease gate runs instead of curl and iptables. curl
// answers from the file answers, one line a call ("200", "503",
// "timeout": exit 28, "refused": exit 7), then 200 and marks the file
// exhausted. iptables logs every call and keeps the mangle chain and its
// hooks in files, failing as iptables does (-N of an existing chain, -C
// of a missing rule).
const (
	curlStandIn = `#!/usr/bin/env bash
set -euo pipefail
printf '%s\n' "$*" >>"$STATE/curl.log"
n=$(($(cat "$STATE/n" 2>/dev/null || echo 0) + 1))
echo "$n" >"$STATE/n"
mapfile -t answers <"$STATE/answers"
answer=200
if [ "$n" -gt "${#answers[@]}" ]; then
	: >"$STATE/exhausted"
else
	answer=${answers[n - 1]}
fi
case $answer in
timeout) printf 000; exit 28 ;;
refused) printf 000; exit 7 ;;
*) printf '%s' "$answer" ;;
esac
`
	iptablesStandIn = `#!/usr/bin/env bash
set -euo pipefail
printf '%s\n' "$*" >>"$STATE/iptables.log"
[ "$1" = -w ] || { echo "no -w: $*" >&2; exit 2; }
[ "$2" = -t ] && [ "$3" = mangle ] || { echo "not the mangle table: $*" >&2; exit 2; }
shift 3
op=$1
shift
case $op in
-N)
	if [ -e "$STATE/chain-$1" ]; then echo "iptables: Chain already exists." >&2; exit 1; fi
	: >"$STATE/chain-$1" ;;
-L) [ -e "$STATE/chain-$1" ] ;;
-C)
	hooks=$(cat "$STATE/hooks" 2>/dev/null || true)
	grep -qxF -- "$*" <<<"$hooks" ;;
-I) printf '%s\n' "$1 ${*:3}" >>"$STATE/hooks" ;;
-F) [ -e "$STATE/chain-$1" ] && : >"$STATE/chain-$1" ;;
-A)
	[ -e "$STATE/chain-$1" ]
	chain=$1
	shift
	printf '%s\n' "$*" >>"$STATE/chain-$chain" ;;
*) echo "unexpected iptables $op" >&2; exit 2 ;;
esac
`
)

// leaseGate runs the rendered lease-gate.sh of site db0 against the
// stand-ins with the given answers of Patroni's /primary until they are
// used up, then stops it with SIGTERM as run.sh does; it returns what the
// gate logged and the state directory.
func leaseGate(t *testing.T, gate, lib []byte, state string, answers ...string) string {
	t.Helper()
	bin := filepath.Join(state, "bin")
	for name, data := range map[string]string{"curl": curlStandIn, "iptables": iptablesStandIn} {
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bin, name), []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"n", "exhausted"} {
		if err := os.Remove(filepath.Join(state, f)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(state, "answers"), []byte(strings.Join(answers, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	libPath := filepath.Join(state, "hagen.sh")
	if err := os.WriteFile(libPath, lib, 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(state, "lease-gate.sh")
	if err := os.WriteFile(script, bytes.Replace(gate, []byte(". /etc/hagen/lib/hagen.sh"), []byte(". "+libPath), 1), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script)
	cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "STATE=" + state}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(time.Duration(len(answers)+20) * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case err := <-done:
			t.Fatalf("lease-gate.sh ended before its answers were used up: %v\n%s", err, stderr.String())
		case <-deadline:
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("lease-gate.sh did not use up its answers in time\n%s", stderr.String())
		case <-tick.C:
			if _, err := os.Stat(filepath.Join(state, "exhausted")); err == nil {
				break wait
			}
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("lease-gate.sh after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("lease-gate.sh did not stop on SIGTERM\n%s", stderr.String())
	}
	return stderr.String()
}

// gateChanges are the lines of out that log a change of the gate, in
// order, from "closed" or "open" on.
func gateChanges(out string) []string {
	var got []string
	for _, l := range strings.Split(out, "\n") {
		if _, rest, ok := strings.Cut(l, "lease gate "); ok {
			got = append(got, rest)
		}
	}
	return got
}

// TestLeaseGate runs the rendered lease gate (set -euo pipefail as
// rendered) with stand-ins for curl and iptables: it starts closed, opens
// at a 200 of /primary, closes at once at any other answer or none, and
// after two timeouts in a row but not after one; it changes the chain only
// when the gate changes, and closes it when stopped. A second start finds
// the chain and its hooks and adds neither again.
func TestLeaseGate(t *testing.T) {
	tree := renderSpec(t, patroniExample)
	gate, lib := []byte(file(t, tree, "db0/keepalived/lease-gate.sh")), []byte(file(t, tree, "db0/lib/hagen.sh"))
	const url, vip, chain = "http://10.234.0.11:8008/primary", "10.234.0.100", "hagen-vip-lease"
	state := t.TempDir()

	out := leaseGate(t, gate, lib, state, "200", "200", "503", "200", "timeout", "200", "timeout", "timeout", "refused", "200", "refused", "200")
	want := []string{
		"closed: starting; packets to " + vip + " are dropped",
		"open: Patroni here is the leader (" + url + " answers 200)",
		"closed: " + url + " answered 503; packets to " + vip + " are dropped",
		"open: Patroni here is the leader (" + url + " answers 200)",
		"closed: " + url + " did not answer within 0.5s 2 times in a row; packets to " + vip + " are dropped",
		"open: Patroni here is the leader (" + url + " answers 200)",
		"closed: " + url + " did not answer (curl exit 7); packets to " + vip + " are dropped",
		"open: Patroni here is the leader (" + url + " answers 200)",
		"closed: stopping; packets to " + vip + " are dropped",
	}
	if got := gateChanges(out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the gate's changes:\n%s\nwant:\n%s\nall it printed:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out)
	}

	curlLog, err := os.ReadFile(filepath.Join(state, "curl.log"))
	if err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(string(curlLog), "\n"); !strings.Contains(first, "-m 0.5") || !strings.HasSuffix(first, " "+url) {
		t.Errorf("curl is called as %q, want -m 0.5 and %s", first, url)
	}

	// Every change of the chain, in order: the chain and its hooks once,
	// then a flush for each opening and a flush and DROP for each closing,
	// none for a poll that changes nothing.
	closeCalls := []string{"-w -t mangle -F " + chain, "-w -t mangle -A " + chain + " -j DROP"}
	openCalls := []string{"-w -t mangle -F " + chain}
	wantIpt := []string{
		"-w -t mangle -N " + chain,
		"-w -t mangle -I PREROUTING 1 -d " + vip + " -j " + chain,
		"-w -t mangle -I OUTPUT 1 -d " + vip + " -m addrtype --dst-type LOCAL -j " + chain,
	}
	for range 4 {
		wantIpt = append(append(wantIpt, closeCalls...), openCalls...)
	}
	wantIpt = append(wantIpt, closeCalls...)
	if got := changingCalls(t, state); strings.Join(got, "\n") != strings.Join(wantIpt, "\n") {
		t.Errorf("iptables calls that change the chain:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantIpt, "\n"))
	}
	chainRules := func() string {
		data, err := os.ReadFile(filepath.Join(state, "chain-"+chain))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if got := chainRules(); got != "-j DROP\n" {
		t.Errorf("the chain after the gate stopped: %q, want the DROP rule only", got)
	}

	// A restart: the chain and both hooks are there already (its -N
	// fails, and adds nothing).
	if err := os.Remove(filepath.Join(state, "iptables.log")); err != nil {
		t.Fatal(err)
	}
	out = leaseGate(t, gate, lib, state, "200")
	wantIpt = append(append(append([]string{"-w -t mangle -N " + chain}, closeCalls...), openCalls...), closeCalls...)
	if got := changingCalls(t, state); strings.Join(got, "\n") != strings.Join(wantIpt, "\n") {
		t.Errorf("after a restart, iptables calls that change the chain:\n%s\nwant:\n%s\n%s", strings.Join(got, "\n"), strings.Join(wantIpt, "\n"), out)
	}
	hooks, err := os.ReadFile(filepath.Join(state, "hooks"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(hooks), "PREROUTING -d "+vip+" -j "+chain+"\nOUTPUT -d "+vip+" -m addrtype --dst-type LOCAL -j "+chain+"\n"; got != want {
		t.Errorf("hooks after a restart:\n%s\nwant each once:\n%s", got, want)
	}
	if got := chainRules(); got != "-j DROP\n" {
		t.Errorf("the chain after the restarted gate stopped: %q, want the DROP rule only", got)
	}
}

// changingCalls are the logged iptables calls that change the table (not
// -C or -L).
func changingCalls(t *testing.T, state string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(state, "iptables.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if f := strings.Fields(l); len(f) > 3 && (f[3] == "-C" || f[3] == "-L") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// TestPatroniKeepalivedRunEndsTogether runs the rendered keepalived
// run.sh of the Patroni design with stand-ins for keepalived and the
// lease gate: when the gate ends, keepalived is stopped and run.sh ends
// with the gate's status (compose or systemd start the service again); a
// SIGTERM to run.sh stops both.
func TestPatroniKeepalivedRunEndsTogether(t *testing.T) {
	tree := renderSpec(t, patroniExample)
	run, lib := []byte(file(t, tree, "db0/keepalived/run.sh")), []byte(file(t, tree, "db0/lib/hagen.sh"))
	const standIn = `#!/usr/bin/env bash
set -euo pipefail
name=$(basename "$0")
trap 'echo "$name: TERM" >>"$STATE/ended"; exit 0' TERM
echo "$name" >>"$STATE/started"
for _ in $(seq 1 200); do
	if [ "$name" = lease-gate.sh ] && [ -n "${GATE_EXIT:-}" ]; then
		started=$(cat "$STATE/started" 2>/dev/null || true)
		if [[ $started == *keepalived* ]]; then
			exit "$GATE_EXIT"
		fi
	fi
	sleep 0.05
done
echo "$name: not stopped" >>"$STATE/ended"
`
	for _, tc := range []struct {
		name, gateExit string
		signal         bool
		wantEnded      []string
	}{
		{"the gate ends", "3", false, []string{"keepalived: TERM"}},
		{"SIGTERM", "", true, []string{"keepalived: TERM", "lease-gate.sh: TERM"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			bin := filepath.Join(state, "bin")
			if err := os.MkdirAll(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"keepalived", "lease-gate.sh"} {
				if err := os.WriteFile(filepath.Join(bin, name), []byte(standIn), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			libPath := filepath.Join(state, "hagen.sh")
			if err := os.WriteFile(libPath, lib, 0o644); err != nil {
				t.Fatal(err)
			}
			script := run
			for _, r := range [][2]string{
				{". /etc/hagen/lib/hagen.sh", ". " + libPath},
				{"/etc/hagen/keepalived/lease-gate.sh &", filepath.Join(bin, "lease-gate.sh") + " &"},
				{"/run/keepalived*.pid /run/vrrp.pid", state + "/keepalived*.pid " + state + "/vrrp.pid"},
			} {
				if !bytes.Contains(script, []byte(r[0])) {
					t.Fatalf("run.sh no longer contains %q", r[0])
				}
				script = bytes.Replace(script, []byte(r[0]), []byte(r[1]), 1)
			}
			path := filepath.Join(state, "run.sh")
			if err := os.WriteFile(path, script, 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", path)
			cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "STATE=" + state, "GATE_EXIT=" + tc.gateExit}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			if tc.signal {
				// Both started, then the service is stopped.
				deadline := time.Now().Add(10 * time.Second)
				for {
					data, _ := os.ReadFile(filepath.Join(state, "started"))
					if strings.Count(string(data), "\n") == 2 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("run.sh did not start both: %q\n%s", data, out.String())
					}
					time.Sleep(20 * time.Millisecond)
				}
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("run.sh did not end\n%s", out.String())
			}
			if tc.gateExit != "" {
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 3 {
					t.Errorf("run.sh ended with %v, want the gate's status 3\n%s", err, out.String())
				}
			} else if err == nil {
				t.Errorf("run.sh ended with status 0 after SIGTERM\n%s", out.String())
			}
			ended, _ := os.ReadFile(filepath.Join(state, "ended"))
			got := strings.Split(strings.TrimSpace(string(ended)), "\n")
			slices.Sort(got)
			if strings.Join(got, "\n") != strings.Join(tc.wantEnded, "\n") {
				t.Errorf("how the processes ended:\n%s\nwant:\n%s\n%s", strings.Join(got, "\n"), strings.Join(tc.wantEnded, "\n"), out.String())
			}
		})
	}
}
