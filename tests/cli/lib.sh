# lib.sh - shared helpers for the CLI test scripts (tests/cli/test_*.sh).
#
# Usage, at the top of a test script:
#
#   set -euo pipefail
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
#
# It sets:
#   ND      absolute path of the neardup binary (first script argument)
#   SRC     the repository root ($ND_SOURCE_DIR, else derived from this file)
#   T       a fresh temporary directory, removed on exit
# and after each `run`:
#   RC      exit status; stdout in $T/out, stderr in $T/err (also OUT/ERR)
#
# Every assertion prints a one-line failure message (plus the last command's
# output when useful) and exits 1 at the first failure.

if [[ $# -lt 1 || -z "${1:-}" ]]; then
    echo "usage: bash $0 /path/to/neardup" >&2
    exit 2
fi
if [[ ! -x "$1" ]]; then
    echo "FAIL: neardup binary '$1' is missing or not executable" >&2
    exit 1
fi
ND="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
# shellcheck disable=SC2034  # used by the test scripts
SRC="${ND_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
command -v jq >/dev/null || { echo "FAIL: jq is required" >&2; exit 1; }
command -v python3 >/dev/null || { echo "FAIL: python3 is required" >&2; exit 1; }

T="$(mktemp -d "${TMPDIR:-/tmp}/neardup-cli-test.XXXXXX")"
trap 'rm -rf "$T"' EXIT
export LC_ALL=C
TEST_NAME="$(basename "$0" .sh)"
LAST_CMD=""
RC=0
OUT="$T/out"
ERR="$T/err"

# ---- reporting ----

# check "what": announce the next check.
check() { echo "[$TEST_NAME] $*"; }

# Show the last run's command and output (at most 40 lines of each).
show_last() {
    {
        echo "  last command: $LAST_CMD (exit $RC)"
        if [[ -s "$OUT" ]]; then
            echo "  --- stdout ---"
            head -n 40 "$OUT" | sed 's/^/  | /'
        fi
        if [[ -s "$ERR" ]]; then
            echo "  --- stderr ---"
            head -n 40 "$ERR" | sed 's/^/  | /'
        fi
    } >&2
}

fail() {
    echo "FAIL [$TEST_NAME]: $*" >&2
    [[ -n "$LAST_CMD" ]] && show_last
    exit 1
}

# ---- running ----

# run CMD...: run a command, never tripping set -e; status in RC.
run() {
    LAST_CMD="$*"
    set +e
    "$@" >"$OUT" 2>"$ERR"
    RC=$?
    set -e
}

# run_in FILE CMD...: like run, with stdin from FILE.
run_in() {
    local input="$1"
    shift
    LAST_CMD="$* < $input"
    set +e
    "$@" <"$input" >"$OUT" 2>"$ERR"
    RC=$?
    set -e
}

# nd ARGS...: run neardup (see run).
nd() { run "$ND" "$@"; }

# ---- assertions ----

assert_eq() { # assert_eq EXPECTED ACTUAL [WHAT]
    [[ "$1" == "$2" ]] || fail "${3:-value}: expected '$1', got '$2'"
}

assert_ne() { # assert_ne UNEXPECTED ACTUAL [WHAT]
    [[ "$1" != "$2" ]] || fail "${3:-value}: did not expect '$1'"
}

# assert_rc CODE [WHAT]: the last run exited with CODE.
assert_rc() {
    [[ "$RC" == "$1" ]] || fail "${2:-exit status}: expected exit $1, got $RC"
}

# assert_exit CODE CMD...: run CMD and check its exit status.
assert_exit() {
    local code="$1"
    shift
    run "$@"
    assert_rc "$code" "exit status of '$*'"
}

# assert_contains HAYSTACK NEEDLE [WHAT]: fixed-string match.
assert_contains() {
    [[ "$1" == *"$2"* ]] || fail "${3:-text} does not contain '$2'"
}

assert_not_contains() {
    [[ "$1" != *"$2"* ]] || fail "${3:-text} unexpectedly contains '$2'"
}

# assert_file_contains FILE NEEDLE [WHAT]
assert_file_contains() {
    grep -qF -- "$2" "$1" || fail "${3:-$1} does not contain '$2'"
}

assert_file_not_contains() {
    ! grep -qF -- "$2" "$1" || fail "${3:-$1} unexpectedly contains '$2'"
}

assert_empty_file() { # assert_empty_file FILE [WHAT]
    [[ ! -s "$1" ]] || fail "${2:-$1} should be empty"
}

assert_nonempty_file() {
    [[ -s "$1" ]] || fail "${2:-$1} should not be empty"
}

# assert_same_file A B [WHAT]: byte-identical (else the first lines of their diff shown).
assert_same_file() {
    cmp -s "$1" "$2" ||
        fail "${3:-files} differ: $1 vs $2 ($(cmp "$1" "$2" 2>&1 | head -n 1)); first lines of diff, cut at 200 characters:
$(diff "$1" "$2" 2>&1 | head -n 8 | cut -c 1-200)"
}

# assert_jq FILE FILTER [WHAT]: jq -e over the slurped JSON Lines in FILE
# (the filter sees an array of all records) must give true. Pass values in
# through the environment: P=x assert_jq "$OUT" '.[0].id == $ENV.P'.
assert_jq() {
    local file="$1" filter="$2" what="${3:-$2}"
    local got
    got="$(jq -e -s "$filter" "$file" 2>&1)" || fail "$what (jq -s '$filter' gave: ${got:-nothing})"
}

# assert_valid_jsonl FILE: every line is one JSON value.
assert_valid_jsonl() {
    python3 - "$1" <<'EOF' || fail "$1 is not valid JSON Lines"
import json, sys
with open(sys.argv[1], "rb") as f:
    for n, line in enumerate(f, 1):
        try:
            json.loads(line.decode("utf-8"))
        except Exception as e:
            sys.exit(f"line {n}: {e}")
EOF
}

# strip_neardup FILE: FILE's lines with the "neardup" member that dedup
# adds (--annotate, --removed) taken out again, which must give back the
# input record byte for byte; fails when a line has no such member.
strip_neardup() {
    python3 - "$1" <<'EOF' || fail "$1: a line without the \"neardup\" member"
import json, sys
out = sys.stdout.buffer
for n, line in enumerate(open(sys.argv[1], "rb").read().splitlines(keepends=True), 1):
    at = line.rfind(b'"neardup":{')
    if at < 0:
        sys.exit(f"line {n}")
    rest = line[at + 10:].decode("utf-8")
    _, length = json.JSONDecoder().raw_decode(rest)
    end = at + 10 + len(rest[:length].encode("utf-8"))
    start = at - 1 if line[at - 1:at] == b"," else at
    out.write(line[:start] + line[end:])
EOF
}

# line_count FILE
line_count() { wc -l <"$1" | tr -d ' '; }

# seconds COMMAND ARGS...: the wall seconds COMMAND takes (its stdout
# dropped; it must exit 0), for the tests that bound how time grows with
# the input (a ratio of two sizes, never a time alone)
seconds() {
    python3 - "$@" <<'PY'
import subprocess, sys, time
t0 = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print("%.3f" % (time.perf_counter() - t0))
PY
}

# ---- the stderr summary line ----
# "neardup: R documents read (X MB), E empty, I invalid UTF-8, S skipped;
#  C clusters, D duplicates[; kept K, removed M]; ..."
# summary_field NAME [FILE]: the number before NAME in the summary line of
# FILE (default $ERR), e.g. summary_field "documents read", summary_field kept.
summary_field() {
    local name="$1" file="${2:-$ERR}" line re
    line="$(grep -E '^neardup: [0-9]+ documents read' "$file" | tail -n 1)" ||
        fail "no summary line on stderr ($file)"
    if [[ $name == kept || $name == removed ]]; then
        re="[; ]$name ([0-9]+)"
    else
        # "1 cluster" or "1 clusters": either is fine
        [[ $name == *s ]] && name="${name%s}s?"
        re="([0-9]+) $name([,;]| \\()"
    fi
    [[ $line =~ $re ]] || fail "summary line has no '$name' count: $line"
    echo "${BASH_REMATCH[1]}"
}

# pass: final line of a successful script.
pass() { echo "[$TEST_NAME] PASS"; }
