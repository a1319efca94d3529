#!/bin/sh
# Build the libFuzzer targets with clang, ASan and UBSan:
#   tests/unit/fuzz/build.sh OUTDIR    then e.g.  OUTDIR/fuzz_addr -max_total_time=120
# Not part of the CTest suite (it needs clang and runs for minutes).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../../../common"
out=${1:-./fuzz-build}
mkdir -p "$out"
cp "$here/../../../build/dev/common/paths.h" "$out/paths.h" 2>/dev/null || printf '#define MAILSTATE_VERSION "0"\n#define MAILSTATE_CONF_PATH "/etc/mailstate/mailstate.conf"\n#define MAILSTATE_KEY_PATH "/etc/mailstate/system.key"\n#define MAILSTATE_STATE_DIR "/var/lib/mailstate"\n#define MAILSTATE_RUN_DIR "/run/mailstate"\n' >"$out/paths.h"
flags="-D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I$src -I$out"
libs="$(pkg-config --libs lmdb jansson libsodium inih libidn2) -lpthread"
# Every target links the whole common library, so a new module needs no edit here.
for t in addr mailid conf cidr store_rec; do
  clang $flags -o "$out/fuzz_$t" "$here/fuzz_$t.c" "$src"/*.c $libs
done
