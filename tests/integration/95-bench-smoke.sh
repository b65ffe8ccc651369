#!/bin/bash
# SPDX-License-Identifier: MIT
# tools/bench keeps working: its smoke version (small inputs, one run, about 30 s) builds
# its inputs, mounts every variant, copies, reads and converts, compares each copy with
# qemu-img's (the bench itself fails on a difference), and must print every row of its
# table with a number in it.  No time is asserted: speed is the bench's business, and a
# loaded machine must not fail a test.  Its inputs are kept with the fixtures.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

out=$TEST_TMP/bench.out
json=$TEST_TMP/bench.json
start=$SECONDS
python3 "$VMFS_ROOT/tools/bench.py" --smoke --build "$VMFS_BUILD" \
	--work "$FIXTURES/bench-smoke" --out-dir "$TEST_TMP/out" --json "$json" >"$out" 2>&1 || {
	cat "$out"
	fail "tools/bench --smoke failed"
}
cat "$out"
ok "tools/bench --smoke ran in $((SECONDS - start))s"

fs_figures="rand4k raw-copy sparse-copy qcow2-copy cat cat-rate cat-source mount peak-mem"
sp_figures="rand4k sparse-copy qcow2-copy mount peak-mem"
rows=0
for variant in ova monolithicSparse monolithicFlat; do
	for input in fs sp; do
		figures=$fs_figures
		[ "$input" = sp ] && figures=$sp_figures
		for figure in $figures; do
			n=$(jq --arg i "$input" --arg v "$variant" --arg f "$figure" '[.[]
				| select((.input | startswith($i + " ")) and (.input | endswith(" " + $v))
					and .figure == $f and (.vmfs | type) == "number" and .vmfs > 0)]
				| length' "$json")
			[ "$n" = 1 ] || fail "no row (or not a positive number) for $input $variant $figure"
			grep -qE "^\| $input [^|]* $variant +\| $figure +\| +[0-9]+\.[0-9]+ " "$out" ||
				fail "the printed table has no row for $input $variant $figure"
			rows=$((rows + 1))
		done
	done
done
ok "every one of the $rows rows is there"
