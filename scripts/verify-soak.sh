#!/bin/sh
# verify-soak: run every verify matrix N times in a row, by default while a
# CPU hog keeps one core busy, and print the tally per spec.
#
#   scripts/verify-soak.sh                    # 10 runs of each, with the hog
#   N=3 HOG=0 scripts/verify-soak.sh topologies/primary-standby-vip.cue
#
# Each run's summary is kept in $OUT (default: a new temporary directory).
set -u
cd "$(dirname "$0")/.."
n=${N:-10}
hog=${HOG:-1}
out=${OUT:-$(mktemp -d -t hagen-soak-XXXXXX)}
specs="$*"
[ -n "$specs" ] || specs="examples/dual-site.cue examples/primary-standby.cue topologies/primary-standby-vip.cue topologies/active-backup-haproxy.cue"
go build -o bin/hagen ./cmd/hagen || exit 2
hogpid=
if [ "$hog" = 1 ]; then
	sh -c 'while :; do :; done' &
	hogpid=$!
	trap 'kill $hogpid 2>/dev/null' EXIT INT TERM
fi
tally=""
for spec in $specs; do
	pass=0
	fail=0
	name=$(basename "$spec" .cue)
	i=1
	while [ "$i" -le "$n" ]; do
		log="$out/$name-$i.txt"
		if bin/hagen verify --timeout 40m "$spec" >"$log" 2>"$out/$name-$i.progress"; then
			pass=$((pass + 1))
			r=passed
		else
			fail=$((fail + 1))
			r="FAILED ($(grep -E ' failed' "$log" | tail -1))"
		fi
		echo "$name run $i/$n: $r"
		i=$((i + 1))
	done
	tally="$tally$name: $pass of $n passed, $fail failed
"
done
echo
echo "CPU hog on one core: $([ "$hog" = 1 ] && echo yes || echo no); logs in $out"
printf '%s' "$tally"
