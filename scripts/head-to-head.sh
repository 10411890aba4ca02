#!/usr/bin/env bash
# head-to-head.sh: the same deployment with its two failover designs, side
# by side. Runs `hagen verify --json` on a Patroni spec (default
# examples/patroni.cue) and on the same spec with the keepalived design
# (database.streaming.manager: "keepalived"), generated into a temporary
# file, then prints a markdown table: per fault, for each manager, the
# write RTO, the VIP move, lost and unknown writes, the split-brain window
# and the time until the old primary rejoins.
#
# The keepalived spec differs only where the keepalived design requires:
# it has no witness site running etcd (Patroni's third vote) but a ping
# witness, database.streaming.witness, at WITNESS (default 10.234.0.13: on
# the database LAN, since verify simulates only the spec's LANs), and no
# Patroni REST API password. Everything else (timers, VIP, HAProxy, clients,
# synchronous "block") is the same text.
#
# Usage: scripts/head-to-head.sh [SPEC]
#   OUT=DIR        keep the reports and the generated spec there (default: a
#                  temporary directory, printed)
#   WITNESS=ADDR   the keepalived design's ping witness
#   SCENARIOS=a,b  the faults to compare (default: all that both run)
#   RUN=keepalived which runs to make (default: patroni,keepalived; none: only
#                  the table); the other report is read from OUT as an earlier
#                  run left it, so one side can be measured again
#   TMPDIR         as for hagen verify (the lock on the spec's subnets)
# The two runs share the spec's subnets and run one after the other.
set -euo pipefail

cd "$(dirname "$0")/.."
spec=${1:-examples/patroni.cue}
witness=${WITNESS:-10.234.0.13}
out=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/head-to-head.XXXXXX")}
mkdir -p "$out"
shared=failover-kill,rejoin,zero-loss-stop,zero-loss-postgres-kill,zero-loss-pause,partition-witness,partition-one-way,partition-db-only,witness-down
patroni_only=dcs-quorum-loss,primary-isolated-from-etcd
scenarios=${SCENARIOS:-$shared,$patroni_only}

if ! grep -q 'manager: *"patroni"' "$spec"; then
	echo "head-to-head: $spec does not set manager: \"patroni\"" >&2
	exit 1
fi

echo "reports in $out" >&2
CGO_ENABLED=0 go build -o "$out/hagen" ./cmd/hagen

# The keepalived design: the manager switched, the witness site (which
# runs only etcd) replaced by a ping witness, Patroni's own settings gone.
ka="$out/$(basename "$spec" .cue)-keepalived.cue"
sed -e 's/manager: *"patroni"/manager: "keepalived"/' \
	-e '/witness: *true/d' \
	-e '/^[[:space:]]*patroni: *restApiPassword/d' \
	-e 's/^\([[:space:]]*\)synchronous: *true/&\n\1witness: "'"$witness"'"/' \
	"$spec" >"$ka"
"$out/hagen" validate "$ka" >&2

# The faults each design's matrix has.
only() { # only NAMES MATRIX-NAMES: the names of NAMES that MATRIX-NAMES lists
	local keep=() n
	for n in ${1//,/ }; do
		case ",$2," in *",$n,"*) keep+=("$n") ;; esac
	done
	local IFS=,
	echo "${keep[*]}"
}
ka_scenarios=$(only "$scenarios" "$shared")

run=${RUN:-patroni,keepalived}
measure() { # measure NAME SCENARIOS SPEC: one verify run, its start and load average
	date -u '+%Y-%m-%d %H:%M UTC' >"$out/$1.started"
	cat /proc/loadavg >"$out/$1.load-before"
	"$out/hagen" verify --scenario "$2" --json "$out/$1.json" "$3" >"$out/$1.log" 2>&1 || true
	cat /proc/loadavg >"$out/$1.load-after"
}
case ",$run," in *,patroni,*) measure patroni "$scenarios" "$spec" ;; esac
case ",$run," in *,keepalived,*) measure keepalived "$ka_scenarios" "$ka" ;; esac

for f in patroni keepalived; do
	if [ ! -s "$out/$f.json" ]; then
		echo "head-to-head: no report from the $f run; see $out/$f.log" >&2
		exit 1
	fi
done

# One row per fault; a cell is "—" where the design's matrix has no such
# scenario or the figure was not measured.
jq -rn --slurpfile p "$out/patroni.json" --slurpfile k "$out/keepalived.json" --arg order "$scenarios" '
	def ms: if . == null or . == 0 then "—" else ((. / 100 | round) / 10 | tostring) + " s" end;
	def n: if . == null then "—" else tostring end;
	def rto: (.metrics.rtoMs // ([.rto[]?.measuredMs] | max));
	def vip: (.metrics.extra.vipMoveMs // null);
	def cells($s):
		if $s == null then ["—", "—", "—", "—", "—", "—", "—"]
		elif $s.status == "skipped" or $s.status == "not run" then [$s.status, "—", "—", "—", "—", "—", "—"]
		else [
			($s.status + (if $s.knownLimit then " (known limit)" else "" end)),
			($s | rto | ms), ($s | vip | ms),
			($s.checks.lost.lost | n), ($s.checks.unknown.unknown | n),
			(if $s.checks == null then "—" else ($s.checks.splitBrain.windowMs // 0 | tostring) + " ms" end),
			($s.metrics.extra.rejoinMs | ms)
		] end;
	($p[0].scenarios | map({(.name): .}) | add) as $ps |
	($k[0].scenarios | map({(.name): .}) | add) as $ks |
	"| fault | manager | verdict | write RTO | VIP move | lost | unknown | split-brain window | old primary rejoins |",
	"| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
	($order | split(",")[] as $f |
		("| \($f) | patroni | " + (cells($ps[$f]) | join(" | ")) + " |"),
		("| | keepalived | " + (cells($ks[$f]) | join(" | ")) + " |"))
' | tee "$out/table.md"
for f in patroni keepalived; do
	printf '\n%s: started %s, load average (1, 5, 15 min) before %s, after %s\n' "$f" \
		"$(cat "$out/$f.started")" "$(cut -d' ' -f1-3 "$out/$f.load-before")" \
		"$(cut -d' ' -f1-3 "$out/$f.load-after")"
done | tee -a "$out/table.md"
