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
for t in addr mailid conf cidr; do
  clang $flags -o "$out/fuzz_$t" "$here/fuzz_$t.c" "$src"/addr.c "$src"/mailid.c \
    "$src"/cidr.c "$src"/conf.c "$src"/conf_parse.c "$src"/msys.c "$src"/log.c \
    "$src"/xmem.c $libs
done
clang $flags -o "$out/fuzz_store_rec" "$here/fuzz_store_rec.c" "$src"/store_rec.c \
  "$src"/store.c "$src"/store_env.c "$src"/store_db.c "$src"/store_gc.c "$src"/store_admin.c \
  "$src"/mailid.c "$src"/log.c "$src"/xmem.c $libs
# Seeds: tests/unit/fuzz/corpus/NAME (copy to a scratch dir; libFuzzer adds to it), e.g.
#   cp -r tests/unit/fuzz/corpus/addr /tmp/c && OUTDIR/fuzz_addr -max_total_time=200 /tmp/c
