#!/usr/bin/env bash
# Packages tradelake for AWS Lambda's provided.al2023 runtime:
#   scripts/package.sh [BINARY] [OUT.zip]     (defaults: build/release/tradelake, dist/tradelake-lambda.zip)
# The zip holds `bootstrap` (static; starts the bundled loader, deploy/bootstrap.c)
# at its root, bin/tradelake, and in lib/ every shared library the binary loads
# (ldd), libduckdb.so, glibc and the dynamic loader included: Debian 12 builds
# against glibc 2.36 and AL2023 has 2.34, so the host's loader must not be used.
# Fails if a versioned symbol any packaged file needs (objdump -T) is defined
# by no packaged library, or if the package exceeds Lambda's 250 MB unzipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release/tradelake}
out=${2:-dist/tradelake-lambda.zip}
[ -x "$bin" ] || { echo "package: $bin not found; run make build" >&2; exit 1; }
for tool in ldd objdump strip zip cc; do
  command -v "$tool" >/dev/null || { echo "package: $tool is missing; run make deps" >&2; exit 1; }
done

stage=$(mktemp -d /tmp/tradelake-package.XXXXXX)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib"
cp "$bin" "$stage/bin/tradelake"

# Every library the loader resolves, and the loader itself.
loader=""
while read -r line; do
  case "$line" in
    *"=> not found"*) echo "package: $bin needs a library that is not found: $line" >&2; exit 1 ;;
    *"=> /"*) path=${line#*=> }; path=${path%% (*}; cp -L "$path" "$stage/lib/" ;;
    /*ld-linux*) loader=${line%% (*} ;;
  esac
done < <(ldd "$bin")
[ -n "$loader" ] || { echo "package: no dynamic loader in ldd $bin" >&2; exit 1; }
cp -L "$loader" "$stage/lib/ld-linux-x86-64.so.2"
chmod 0755 "$stage/lib/"*.so* "$stage/bin/tradelake"

# Symbols and debug sections are most of the size (libduckdb.so above all).
strip --strip-unneeded "$stage/bin/tradelake" "$stage/lib/"*.so*

cc -static -Os -Wall -Wextra -o "$stage/bootstrap" deploy/bootstrap.c
strip "$stage/bootstrap"

# Every versioned symbol (GLIBC_2.xx, GLIBCXX_3.4.xx, OPENSSL_3.0.0, ...) a
# packaged file needs must be defined by a packaged library.
needed=$(for f in "$stage/bin/tradelake" "$stage/lib/"*.so*; do
           objdump -T "$f" | awk '$0 ~ /\*UND\*/ { for (i = 1; i <= NF; i++) if ($i ~ /^\(.*\)$/) { v = substr($i, 2, length($i) - 2); print v } }'
         done | sort -u)
defined=$(for f in "$stage/lib/"*.so*; do
            objdump -T "$f" | awk '$0 !~ /\*UND\*/ && NF >= 7 { print $(NF-1) }'
            objdump -p "$f" | awk '/^Version definitions:/ { d = 1; next } /^Version References:/ { d = 0 } d && NF >= 4 { print $4 }'
          done | tr -d '()' | sort -u)
missing=$(comm -23 <(echo "$needed" | grep -v '^Base$' | grep -v '^$') <(echo "$defined"))
if [ -n "$missing" ]; then
  echo "package: versioned symbols no packaged library defines:" >&2
  echo "$missing" >&2
  exit 1
fi
glibc_max=$(echo "$needed" | grep '^GLIBC_[0-9]' | sort -V | tail -1)

unzipped=$(du -sb "$stage" | cut -f1)
if [ "$unzipped" -gt $((250 * 1000 * 1000)) ]; then
  echo "package: $unzipped bytes unzipped exceeds Lambda's 250 MB" >&2
  exit 1
fi
mkdir -p "$(dirname "$out")"
rm -f "$out"
out_abs=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
(cd "$stage" && zip -q -9 -X -r "$out_abs" bootstrap bin lib)
zipped=$(stat -c %s "$out")
echo "package: $out: $zipped bytes zipped, $unzipped unzipped, $(find "$stage/lib" -type f | wc -l) libraries; needs up to $glibc_max (bundled)"
if [ "$zipped" -gt $((50 * 1024 * 1024)) ]; then
  echo "package: larger than 50 MB: deploy it through S3 (the template does), not as a direct upload"
fi
