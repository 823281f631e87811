#!/bin/sh
# Seeds a target's corpus and fuzzes it: fuzz/run.sh TARGET SECONDS [libFuzzer args...]
# Works on stable Rust: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags.
# libFuzzer's log (-jobs mode) is artifacts/TARGET/fuzz-0.log.
set -eu
fuzz=$(cd "$(dirname "$0")" && pwd)
t=$1
secs=${2:-600}
shift 2 || shift $#
seeds="$fuzz/artifacts/$t/seeds"
mkdir -p "$fuzz/corpus/$t" "$seeds"
# Seeds, in a git-ignored directory that libFuzzer reads but does not write
# (new inputs go to the committed corpus, fuzz/corpus/TARGET): the golden
# files the target reads (databases, or their JSON dumps for json_load) and
# the target's saved reproducers. The CLI parsers' seeds are the committed
# corpus only.
case $t in
    cli_*) ;;
    json_load)
        for f in "$fuzz"/../tests/fixtures/golden*/*.json; do
            # libFuzzer reads at most -max_len bytes of a seed
            if [ "$(wc -c < "$f")" -le 262144 ]; then cp -n "$f" "$seeds/"; fi
        done ;;
    *) cp -n "$fuzz"/../tests/fixtures/golden/*.xdb "$fuzz"/../tests/fixtures/golden-btree/*.xdb "$seeds/" ;;
esac
for f in "$fuzz"/../tests/fixtures/fuzz-regressions/"$t"-*.bin; do
    if [ -e "$f" ]; then cp -n "$f" "$seeds/"; fi
done
cd "$fuzz/artifacts/$t"
# FUZZ_SANITIZER=none builds without ASan (several times faster; the
# library's only unsafe code is the memory map). Default: address.
RUSTC_BOOTSTRAP=1 exec cargo fuzz run --fuzz-dir "$fuzz" -s "${FUZZ_SANITIZER:-address}" "$t" \
    "$fuzz/corpus/$t" "$seeds" -- \
    -dict="$fuzz/xitdb.dict" -max_len=1048576 -rss_limit_mb=2048 -timeout=10 \
    -jobs=1 -workers=1 -max_total_time="$secs" "$@"
