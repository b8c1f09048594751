#!/usr/bin/env bash
# test_install.sh - install neardup into a temporary prefix and use it the
# ways a user would: README's library example built exactly as README says
# (`cc example.c $(pkg-config --cflags --libs neardup)`, both taken from
# README.md so it cannot drift) and its output compared with README's; the
# same program linked statically with `pkg-config --static`; a CMake project
# using find_package(neardup) (shared and static); and the shared library's
# exported symbols, which must be exactly the functions neardup.h declares (with
# the part headers it includes).
#
# Usage: bash test_install.sh BUILD_DIR
# Environment: ND_SOURCE_DIR (repository root), CMAKE (cmake binary),
# ND_EXTRA_CFLAGS (set by sanitizer builds: the installed library then needs
# the sanitizer runtime, so the user's command gets -fsanitize=... appended).
set -euo pipefail
build="$(cd "${1:?usage: test_install.sh BUILD_DIR}" && pwd)"
src="${ND_SOURCE_DIR:?}"
cmake="${CMAKE:-cmake}"
extra="${ND_EXTRA_CFLAGS:-}"
T="$(mktemp -d "${TMPDIR:-/tmp}/neardup-install-test.XXXXXX")"
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL [install]: $*" >&2; exit 1; }
check() { echo "[install] $*"; }

check "cmake --install into a temporary prefix"
"$cmake" --install "$build" --prefix "$T/prefix" >"$T/install.log" || { cat "$T/install.log"; fail "cmake --install failed"; }
P="$T/prefix"
libdir="$(sed -n 's/^libdir=${prefix}\///p' "$(find "$P" -name neardup.pc)")"
[[ -n "$libdir" ]] || fail "no neardup.pc installed"
for f in bin/neardup "$libdir/libneardup.a" "$libdir/libneardup.so" include/neardup.h include/neardup_batch.h \
         include/neardup_explain.h include/neardup_db.h \
         "$libdir/pkgconfig/neardup.pc" "$libdir/cmake/neardup/neardupConfig.cmake" \
         "$libdir/cmake/neardup/neardupConfigVersion.cmake" share/man/man1/neardup.1; do
    [[ -e "$P/$f" ]] || fail "$f was not installed"
done
soname="$(readelf -d "$P/$libdir/libneardup.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
[[ "$soname" == libneardup.so.0 ]] || fail "SONAME is '$soname', expected libneardup.so.0"
[[ -e "$P/$libdir/$soname" ]] || fail "$soname was not installed"

check "versions agree: neardup.h, pkg-config, the program, the SONAME"
export PKG_CONFIG_PATH="$P/$libdir/pkgconfig"
header_version="$(sed -n 's/^#define ND_VERSION "\(.*\)"/\1/p' "$P/include/neardup.h")"
[[ "$(pkg-config --modversion neardup)" == "$header_version" ]] || fail "pkg-config version differs from ND_VERSION $header_version"
[[ "$("$P/bin/neardup" --version)" == "neardup $header_version" ]] || fail "neardup --version differs from ND_VERSION"
[[ "$soname" == "libneardup.so.${header_version%%.*}" ]] || fail "SONAME major differs from ND_VERSION $header_version"

check "the manual page has every command's --help, each index subcommand's too"
for command in $("$P/bin/neardup" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p'); do
    grep -qF ".SS \"neardup $command" "$P/share/man/man1/neardup.1" || fail "neardup.1 lacks the command $command"
done
for sub in add stats remove compact; do # (only 'neardup index' was there, saying to ask --help)
    grep -qF ".SS \"neardup index $sub\"" "$P/share/man/man1/neardup.1" || fail "neardup.1 lacks index $sub"
done
grep -qF -- "--replace" "$P/share/man/man1/neardup.1" || fail "neardup.1 lacks index add's --replace"

check "the shared library exports exactly the functions neardup.h declares"
# the header without comments or macros; a declared function is a name followed by '('
declared="$(cc -E -P -x c "$P/include/neardup.h" | grep -oE '\bnd_[a-z0-9_]+[[:space:]]*\(' | tr -d '( \t' | sort -u)"
exported="$(nm -D --defined-only "$P/$libdir/libneardup.so" | awk '{print $3}' | grep -v '^_' | sort -u)"
[[ -n "$declared" ]] || fail "no function found in neardup.h"
if [[ "$declared" != "$exported" ]]; then
    diff <(echo "$declared") <(echo "$exported") | sed 's/^</  declared, not exported:/; s/^>/  exported, not declared:/' >&2 || true
    fail "exported symbols differ from neardup.h"
fi

check "the static library's global symbols are all nd_ (a program's own db_status() clashed with it when linking)"
outside="$(nm -g --defined-only "$P/$libdir/libneardup.a" 2>/dev/null | awk 'NF == 3 && $2 ~ /[A-Z]/ && $2 != "U" {print $3}' |
    grep -v '^nd_' | grep -v '^_' | sort -u || true)"
[[ -z "$outside" ]] || fail "libneardup.a defines global symbols outside nd_: $(echo $outside)"

check "README's example builds with README's command and prints README's output"
# The "Using the library" section: its C block, its `cc example.c` line and
# the output block after it.
section="$(sed -n '/^## Using the library/,/^## /p' "$src/README.md")"
awk '/^```c$/ {on = 1; next} on && /^```$/ {exit} on' <<<"$section" >"$T/example.c"
command="$(grep -m 1 '^cc example\.c ' <<<"$section")" || fail "README's library section has no 'cc example.c' line"
# after the command: the fence closing its block, then the output block
awk 'seen && /^```/ {fences++; if (fences == 3) exit; next} fences == 2 {print} /^cc example\.c / {seen = 1}' \
    <<<"$section" >"$T/expected"
[[ -s "$T/example.c" && -s "$T/expected" ]] || fail "README's library section lacks the program or its output"
grep -q 'pkg-config --cflags --libs neardup' <<<"$command" || fail "README's command does not use pkg-config: $command"
command="${command/cc example.c/cc example.c $extra}"
(cd "$T" && LD_LIBRARY_PATH="$P/$libdir" bash -c "$command" >"$T/got") || fail "README's command failed: $command"
diff -u "$T/expected" "$T/got" || fail "the example's output differs from README's"
links="$(LD_LIBRARY_PATH="$P/$libdir" ldd "$T/example")" # (not piped into grep -q: pipefail and SIGPIPE)
grep -qF "$P/$libdir/libneardup.so.0" <<<"$links" || fail "the example is not linked to the installed libneardup.so.0"

check "static link: pkg-config --static gives every library libneardup.a needs"
mkdir "$T/static"
cp "$P/$libdir/libneardup.a" "$T/static/" # a directory with only the archive: -lneardup finds it first
# shellcheck disable=SC2046  # word splitting of pkg-config's output is intended
cc "$T/example.c" $extra -L"$T/static" $(pkg-config --static --cflags --libs neardup) -o "$T/example-static" ||
    fail "static link with pkg-config --static failed"
links="$(ldd "$T/example-static")"
! grep -q libneardup <<<"$links" || fail "the static example still loads libneardup.so"
"$T/example-static" | diff -u "$T/expected" - || fail "the statically linked example prints something else"

check "a CMake project finds the package: neardup::neardup and neardup::neardup_static"
mkdir -p "$T/consumer"
cp "$T/example.c" "$T/consumer/"
cat >"$T/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.18)
project(consumer LANGUAGES C)
find_package(neardup 0.1 REQUIRED COMPONENTS static)
add_executable(example-shared example.c)
target_link_libraries(example-shared PRIVATE neardup::neardup)
add_executable(example-static example.c)
target_link_libraries(example-static PRIVATE neardup::neardup_static)
CMAKE
"$cmake" -S "$T/consumer" -B "$T/consumer/build" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_FLAGS="$extra" \
    >"$T/consumer.log" 2>&1 || { cat "$T/consumer.log"; fail "find_package(neardup) failed"; }
"$cmake" --build "$T/consumer/build" >>"$T/consumer.log" 2>&1 || { cat "$T/consumer.log"; fail "the CMake consumer did not build"; }
"$T/consumer/build/example-shared" | diff -u "$T/expected" - || fail "CMake consumer (shared) prints something else"
"$T/consumer/build/example-static" | diff -u "$T/expected" - || fail "CMake consumer (static) prints something else"
links="$(ldd "$T/consumer/build/example-shared")"
grep -qF "$P/$libdir/libneardup.so.0" <<<"$links" || fail "neardup::neardup is not the installed shared library"

if [[ -n "${PYTHON:-}" ]]; then
    check "pip install --no-build-isolation ./python into a virtual environment, against the installed library"
    cp -r "$src/python" "$T/python" # pip builds in the tree it is given: not in the repository
    rm -rf "$T/python/build" "$T/python"/*.egg-info
    "$PYTHON" -m venv --system-site-packages "$T/venv" || fail "cannot make a virtual environment (python3-venv)"
    "$T/venv/bin/pip" install --quiet --no-build-isolation --no-index "$T/python" >"$T/pip.log" 2>&1 ||
        { cat "$T/pip.log"; fail "pip install --no-build-isolation ./python failed"; }
    # no LD_LIBRARY_PATH: the module finds libneardup.so.0 by its run path
    (cd "$T" && LD_PRELOAD="${ND_PYTHON_PRELOAD:-}" ASAN_OPTIONS=detect_leaks=0 "$T/venv/bin/python" - "$P/$libdir" <<'PY') ||
import sys, neardup, neardup._neardup as ext
assert neardup.__file__.startswith(sys.prefix), neardup.__file__  # the installed copy, not a build tree
assert neardup.__version__ == ext.__version__
maps = open("/proc/self/maps").read()  # the file mapped: the installed library (symbolic links resolved)
assert sys.argv[1] + "/libneardup.so.0" in maps, "not the installed libneardup.so.0"
texts = ["one two three four five six seven", "One two three four five six seven!", "something else"]
assert neardup.dedup(texts) == [True, False, True]
assert neardup.scan(texts, ["a", "b", "c"])[0].ids == ["a", "b"]
PY
        fail "the pip-installed module does not work"
fi

echo "[install] PASS"
