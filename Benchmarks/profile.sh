#!/usr/bin/env bash
# A noise-free look at the Swift vs C PUB->SUB runs (zmq-compare's Swift side and the anchor):
#  1. instructions counted by valgrind --tool=callgrind, which a loaded machine barely changes.
#     Each side runs with SMALL and LARGE messages; the difference divided by (LARGE - SMALL) is
#     the marginal cost of one message, per thread, with process start-up and socket setup
#     cancelled out. Then the self cost of our ZeroMQ module's own functions per message.
#  2. allocations per message in the whole process (Anchors/malloc_count.c, LD_PRELOADed), the
#     same way: 200000 and 2000000 messages, marginal count per message.
# Not part of run.sh (it takes one to two minutes); run it after run.sh has built everything:
#   Benchmarks/profile.sh [SMALL (default 50000)] [LARGE (default 250000)]
set -euo pipefail
cd "$(dirname "$0")"

small="${1:-50000}"
large="${2:-250000}"
anchor=.build/anchors/zmq_pubsub
compare=.build/release/zmq-compare
for tool in valgrind callgrind_annotate; do
    command -v "$tool" >/dev/null || { echo "profile.sh: $tool not found (apt-get install valgrind)" >&2; exit 1; }
done
[[ -x $anchor && -x $compare ]] || { echo "profile.sh: run ./run.sh first to build $anchor and $compare" >&2; exit 1; }

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

run() { # side messages
    local dir="$out/$1-$2"
    mkdir -p "$dir"
    if [[ $1 == c ]]; then
        valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$dir/cg.%p" \
            "$anchor" "$2" >/dev/null 2>"$dir/log"
    else
        valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$dir/cg.%p" \
            "$compare" --swift-only --rounds 1 --messages "$2" >/dev/null 2>"$dir/log"
    fi
}

# Instructions of each thread of a run, in thread order, one per line.
threads() {
    for file in $(ls "$1"/cg.*-* | sort -t- -k2 -n); do
        sed -n 's/^summary: //p; s/^totals: //p' "$file" | head -1
    done
}

for side in c swift; do
    run "$side" "$small"
    run "$side" "$large"
done

echo "callgrind: marginal instructions per message, ($large-message run - $small-message run) / $((large - small))"
echo "threads: 1 = main (publisher), 2 = libzmq reaper, 3 = libzmq I/O thread, 4 = subscriber"
for side in c swift; do
    paste <(threads "$out/$side-$small") <(threads "$out/$side-$large") |
        awk -v side="$side" -v n=$((large - small)) '
            { per = ($2 - $1) / n; all += per; line = line sprintf("  %4d: %7.1f", NR, per) }
            END { printf "  %-5s%s   all threads: %7.1f\n", side, line, all }'
done

echo
echo "Swift, self cost of the ZeroMQ module's functions, instructions per message (all threads, $large messages):"
for file in "$out/swift-$large"/cg.*-*; do
    callgrind_annotate --auto=no "$file" 2>/dev/null | grep -E '^ *[0-9,]+ .*Sources/ZeroMQ/' || true
done | sed -E 's/^ *([0-9,]+) \([^)]*\) +[^:]*:([^ ]+).*/\1 \2/' | tr -d , |
    awk -v n="$large" '{ cost[$2] += $1 } END { for (f in cost) if (cost[f] / n >= 0.05) printf "%8.1f  %s\n", cost[f] / n, f }' |
    sort -rn | swift demangle --simplified | sed 's/^/  /'

echo
echo "allocations per message, whole process (LD_PRELOAD Anchors/malloc_count.c; (2000000 - 200000 messages) / 1800000):"
gcc -O2 -shared -fPIC -o "$out/malloc_count.so" Anchors/malloc_count.c -ldl
mallocs() { # command...
    LD_PRELOAD="$out/malloc_count.so" "$@" 2>&1 >/dev/null | sed -n 's/^mallocs=//p' | tail -1
}
for side in c swift; do
    counts=()
    for n in 200000 2000000; do
        if [[ $side == c ]]; then
            counts+=("$(mallocs "$anchor" "$n")")
        else
            counts+=("$(mallocs "$compare" --swift-only --rounds 1 --messages "$n")")
        fi
    done
    awk -v side="$side" -v a="${counts[0]}" -v b="${counts[1]}" \
        'BEGIN { printf "  %-5s %.4f  (%d and %d allocations in all)\n", side, (b - a) / 1800000, a, b }'
done
