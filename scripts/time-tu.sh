#!/usr/bin/env bash
# A CMake compiler/linker launcher that logs each command's wall and CPU time:
#   cmake -B build/x -DCMAKE_CXX_COMPILER_LAUNCHER=$PWD/scripts/time-tu.sh \
#         -DCMAKE_CXX_LINKER_LAUNCHER=$PWD/scripts/time-tu.sh
#   TU_TIME_LOG=/tmp/tu.log cmake --build build/x -j2
# appends "wall_s cpu_s output" per command to $TU_TIME_LOG (default
# ./tu-times.log in the build's working directory), so the slowest
# translation units are `sort -rn "$TU_TIME_LOG" | head -20`.
set -u
log=${TU_TIME_LOG:-tu-times.log}
out=unknown
prev=
for a in "$@"; do
  [ "$prev" = -o ] && out=$a
  prev=$a
done
t0=$(date +%s.%N)
/usr/bin/time -f '%U %S' -o "$log.$$" "$@"
rc=$?
t1=$(date +%s.%N)
read -r u s < <(tail -n1 "$log.$$" 2>/dev/null) || { u=0; s=0; }
rm -f "$log.$$"
printf '%.2f %.2f %s\n' "$(echo "$t1 - $t0" | bc)" "$(echo "$u + $s" | bc)" "$out" >>"$log"
exit $rc
