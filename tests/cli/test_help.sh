#!/usr/bin/env bash
# test_help.sh - each command's --help lists exactly the options that
# command takes (every option named in any help is tried on every command:
# refused as "does not apply" if and only if its help leaves it out), and
# an unknown option names the nearest one when it is close to a typo.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

commands=("scan" "dedup" "params" "normalize" "explain" "query" "index add" "index stats" "index remove" "index compact" "index verify")

# Every long option any help mentions.
all=""
for c in "${commands[@]}"; do
    # shellcheck disable=SC2086  # "index add" is two words
    nd $c --help
    assert_rc 0 "$c --help"
    all+=" $(grep -oE -- '--[a-z][a-z-]*[a-z]' "$OUT" | tr '\n' ' ' || true)"
done
all="$(echo "$all" | tr ' ' '\n' | sort -u | grep -v '^--help$' | tr '\n' ' ')"
n_options="$(echo "$all" | wc -w)"
[[ $n_options -ge 30 ]] || fail "only $n_options options found in the helps: $all"

check "each command's --help names exactly the options it accepts ($n_options options, ${#commands[@]} commands)"
echo "text" >"$T/doc.txt"
for c in "${commands[@]}"; do
    # shellcheck disable=SC2086
    nd $c --help
    cp "$OUT" "$T/help"
    for o in $all; do
        # the option, then a value (or a path) for it; whatever else fails, it must not be refused
        # shellcheck disable=SC2086
        nd $c "$T/db" "$o" "$T/doc.txt"
        if grep -qF "does not apply" "$ERR"; then
            ! grep -qE -- "$o([^a-z-]|$)" "$T/help" || fail "'$c --help' lists $o, which '$c' refuses"
        else
            grep -qE -- "$o([^a-z-]|$)" "$T/help" || fail "'$c' takes $o, which '$c --help' does not list"
        fi
    done
done

check "normalize --help and explain --help leave out what those commands do not take"
nd normalize --help
for o in --threshold --num-perm --bands --keep --unit --tmpdir --threads --memory --stats --min-tokens --measure; do
    assert_file_not_contains "$OUT" "$o " "normalize --help"
done
nd explain --help
for o in --keep --unit --tmpdir --threads --memory --stats --min-tokens --verbose --boilerplate; do
    assert_file_not_contains "$OUT" "$o " "explain --help"
done
assert_file_contains "$OUT" "--threshold" "explain --help"

check "an unknown option close to one the command takes: 'did you mean'"
nd scan --treshold 0.5 "$T/doc.txt"
assert_rc 2
assert_file_contains "$ERR" "unknown option '--treshold'; did you mean --threshold?"
nd scan --treshold=0.5 "$T/doc.txt"
assert_file_contains "$ERR" "did you mean --threshold?"
nd dedup --anotate "$T/doc.txt"
assert_file_contains "$ERR" "did you mean --annotate?"
nd normalize --shingels "$T/doc.txt"
assert_file_contains "$ERR" "did you mean --shingles?"
nd scan --qiuet "$T/doc.txt"
assert_file_contains "$ERR" "did you mean --quiet?" "a transposition"
nd scan --thre 1 "$T/doc.txt"
assert_rc 2
assert_file_contains "$ERR" "did you mean one of --threshold, --threads?" "an ambiguous abbreviation"

check "no suggestion when nothing is close, or the close option belongs to another command"
nd scan --frobnicate "$T/doc.txt"
assert_rc 2
assert_file_not_contains "$ERR" "did you mean"
nd scan --jsno "$T/doc.txt"
assert_rc 2
assert_file_not_contains "$ERR" "did you mean" "scan does not take explain's --json"
assert_empty_file "$OUT"

check "the JSON keys index add, remove, compact and verify document in --help are the keys they write"
printf '{"id":"k1","text":"one two three four five six"}\n' >"$T/keys.jsonl"
for c in "index add" "index remove" "index compact" "index verify"; do
    case $c in
    "index add") args=("$T/keysdb" "$T/keys.jsonl") ;;
    "index remove") args=("$T/keysdb" --id k1) ;;
    *) args=("$T/keysdb") ;;
    esac
    # shellcheck disable=SC2086
    nd $c --help
    documented="$(tr '\n' ' ' <"$OUT" | grep -oE 'Writes[^{]*\{[^}]*\}' | grep -oE '"[a-z_]+"' | tr -d '"' | sort | tr '\n' ' ')"
    # shellcheck disable=SC2086
    nd $c "${args[@]}"
    assert_rc 0 "$c"
    written="$(jq -r 'keys[]' "$OUT" | sort | tr '\n' ' ')"
    assert_eq "$written" "$documented" "'$c' keys: written vs --help"
done

check "the JSON keys scan --help documents for a cluster, a group of units and a pair are the keys scan writes"
# (size and profile were written and not documented; --pairs' profile too)
words="$(seq -s ' ' 1 30 | sed 's/[0-9]*/w&/g')"
for id in s1 s2; do printf '{"id":"%s","text":"%s\\n\\n%s"}\n' "$id" "$words" "$words more" >>"$T/s.jsonl"; done
nd scan --help
help_text="$(tr '\n' ' ' <"$OUT")"
keys_of() { # keys_of FROM TO: the quoted keys of scan --help between FROM and the next TO
    grep -oE "$1.*$2" <<<"$help_text" | sed -E "s|$2.*||" | grep -oE '"[a-z_]+"' | tr -d '"' | sort -u | tr '\n' ' '
}
for kind in cluster group pair; do
    case $kind in
    cluster) from='one object per cluster' to=', jaccard\[i\]' args=() ;;
    group) from='one object per group' to='start/end being' args=(--unit paragraph) ;;
    pair) from='one object per matching pair' to='\(exact;' args=(--pairs) ;;
    esac
    documented="$(keys_of "$from" "$to")"
    [[ -n "$documented" ]] || fail "scan --help: no keys found after '$from'"
    nd scan "${args[@]}" "$T/s.jsonl"
    assert_rc 0 "scan ($kind)"
    # the keys of each object, its occurrences' too
    written="$(head -n 1 "$OUT" | jq -r '(keys[]), (.occurrences[0]? // {} | keys[])' | sort -u | tr '\n' ' ')"
    assert_eq "$written" "$documented" "scan's $kind keys: written vs --help"
done

check "README's layout names every source file of src/ (three were left out)"
for f in "$SRC"/src/*.c "$SRC"/src/cli/*.c "$SRC"/src/mpi/*.c; do
    b=$(basename "$f")
    grep -qF "\`$b\`" "$SRC/README.md" || grep -qF "\`src/$b\`" "$SRC/README.md" ||
        grep -qF "\`src/cli/$b\`" "$SRC/README.md" || grep -qF "\`src/mpi/$b\`" "$SRC/README.md" ||
        fail "README.md's layout does not name ${f#"$SRC"/}"
done

pass
