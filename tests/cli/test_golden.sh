#!/usr/bin/env bash
# test_golden.sh - every golden/NAME.sh gives exactly golden/NAME.sh.stdout.exact
# (and the exit status in golden/NAME.sh.exit, 0 when absent). See golden/README.md.
#   bash test_golden.sh NEARDUP [--set-exact-output]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"
set_output="${2:-}"
dir="$SRC/tests/cli/golden"
cd "$SRC"
export ND
count=0
for case in "$dir"/*.sh; do
    name="$(basename "$case")"
    check "golden $name"
    set +e
    bash -o pipefail "$case" >"$T/out" 2>"$T/err"
    rc=$?
    set -e
    want_rc=0
    [[ -f "$case.exit" ]] && want_rc="$(cat "$case.exit")"
    if [[ "$set_output" == "--set-exact-output" ]]; then
        cp "$T/out" "$case.stdout.exact"
        if [[ $rc -ne 0 ]]; then echo "$rc" >"$case.exit"; else rm -f "$case.exit"; fi
        count=$((count + 1))
        continue
    fi
    [[ -f "$case.stdout.exact" ]] || fail "$name: no $name.stdout.exact (run with --set-exact-output)"
    if [[ $rc -ne $want_rc ]]; then
        sed 's/^/  | /' "$T/err" >&2
        fail "$name: exit $rc, expected $want_rc"
    fi
    if ! cmp -s "$T/out" "$case.stdout.exact"; then
        diff "$case.stdout.exact" "$T/out" | head -n 20 | sed 's/^/  | /' >&2
        fail "$name: stdout differs from $name.stdout.exact"
    fi
    count=$((count + 1))
done
[[ $count -gt 0 ]] || fail "no golden cases in $dir"
if [[ -n "$set_output" ]]; then echo "[$TEST_NAME] $count goldens written"; else echo "[$TEST_NAME] $count goldens hold"; fi
