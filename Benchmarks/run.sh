#!/usr/bin/env bash
# QuantumRealm benchmarks (called by `make bench` at the top of the repository):
#   1. builds the raw-libzmq anchor (Anchors/zmq_pubsub.c) and this package in release;
#   2. zmq-compare: our ZeroMQ module vs raw libzmq, PUB->SUB over TCP loopback, interleaved
#      rounds in one invocation, with the median Swift/C ratio;
#   3. scpi-compare: SCPI query round trips from our driver stack to the emulated Lake Shore 372 on
#      TCP vs a minimal C line server (Anchors/line_echo_server.c), interleaved rounds;
#   4. telemetry-compare: samples/s end to end through the Telemetry module vs raw libzmq sending
#      the same frames pre-encoded (Anchors/telemetry_raw.c), single samples and batches of 64,
#      with the producer thread's allocations per sample (Anchors/malloc_count.c);
#   5. qubit-compare: emulated shots/s of CPMG-64 under 1/f noise through QubitTestbed vs the same
#      algorithm in numpy (Anchors/qubit_numpy.py, needs python3 with numpy), interleaved rounds;
#   loop-compare: the node's control-loop wake-up latency vs cyclictest (rt-tests) at 1 kHz and 10 kHz,
#      same period, policy and priority, interleaved, with the loop thread's allocations per cycle;
#   realm-compare: confirmed allocations/s through the realm on SQLite (and PostgreSQL when
#      QRRM_TEST_POSTGRES_URL is set), with 32 and with 64 clients, vs ML-DSA-65 verification alone and
#      ML-DSA-65 signing against swift-crypto's; quote latency; Jain's index;
#   6. the ordo-one benchmarks (Benchmarks/ZeroMQThroughput): throughput, wall clock and
#      malloc counts, then the malloc counts again unscaled (per 1000 messages).
# About a minute and a half after the first build (which takes 5 to 7 minutes on 2 cores).
# Settings: ROUNDS (default 7), MESSAGES per run (default 2000000), MIN_RATIO (default: none;
# when set, zmq-compare exits 1 if the median ratio is below it).
set -euo pipefail
cd "$(dirname "$0")"

ROUNDS="${ROUNDS:-7}"
MESSAGES="${MESSAGES:-2000000}"
MIN_RATIO="${MIN_RATIO:-}"

step() { printf '\n=== %s\n' "$*"; }

# libzmq's headers (for the main package's CZeroMQ and for the anchor). No jemalloc is needed:
# ordo-one/benchmark 1.38.1 on Swift 6.3 counts allocations with ordo-one/malloc-interposer,
# built from source and LD_PRELOADed by the plugin (jemalloc was its backend up to Swift 6.2).
if ! pkg-config --exists libzmq 2>/dev/null; then
    step "installing libzmq3-dev (libzmq's headers and pkg-config file)"
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq libzmq3-dev pkg-config
fi

step "building the C anchors (gcc -O2)"
mkdir -p .build/anchors
gcc -O2 -Wall -Wextra -o .build/anchors/zmq_pubsub Anchors/zmq_pubsub.c -lzmq -lpthread
gcc -O2 -Wall -Wextra -o .build/anchors/line_echo_server Anchors/line_echo_server.c
gcc -O2 -Wall -Wextra -o .build/anchors/telemetry_raw Anchors/telemetry_raw.c -lzmq -lpthread
gcc -O2 -Wall -Wextra -shared -fPIC -o .build/anchors/malloc_count.so Anchors/malloc_count.c -ldl

step "building the comparison tools and the ZeroMQThroughput benchmarks (swift build -c release)"
# Only these products: a plain `swift build` would also build every target of the main package
# (qrrm, USB, GPIO, ...), which the benchmarks do not need. The build manifest is not cached: a cached
# one misses source files added to the main package (a path dependency) since the last build here.
for product in zmq-compare scpi-compare telemetry-compare qubit-compare chi-compare compile-compare loop-compare \
    realm-compare ZeroMQThroughput; do
    swift build -c release --disable-build-manifest-caching --product "$product"
done

step "zmq-compare: Swift vs raw libzmq, $ROUNDS rounds of $MESSAGES messages"
compare_args=(--anchor .build/anchors/zmq_pubsub --rounds "$ROUNDS" --messages "$MESSAGES")
[[ -z $MIN_RATIO ]] || compare_args+=(--min-ratio "$MIN_RATIO")
.build/release/zmq-compare "${compare_args[@]}"

step "scpi-compare: KRDG? round trips to the emulated 372 vs a C line server, $ROUNDS rounds"
.build/release/scpi-compare --anchor .build/anchors/line_echo_server --rounds "$ROUNDS" --queries "${QUERIES:-20000}"

step "telemetry-compare: record -> PUB -> TCP -> SUB -> decode vs raw libzmq, $ROUNDS rounds, single and batch 64"
LD_PRELOAD="$PWD/.build/anchors/malloc_count.so" .build/release/telemetry-compare \
    --anchor .build/anchors/telemetry_raw --rounds "$ROUNDS" --samples "${SAMPLES:-1000000}"

step "qubit-compare: CPMG-64 shots/s, QubitTestbed vs numpy, $ROUNDS rounds"
if python3 -c 'import numpy' 2>/dev/null; then
    .build/release/qubit-compare --anchor Anchors/qubit_numpy.py --rounds "$ROUNDS" --shots "${SHOTS:-20000}"
else
    echo "skipped: python3 with numpy is needed for the anchor (pip install numpy)"
fi

step "loop-compare: control-loop wake-up latency vs cyclictest at 1 kHz and 10 kHz, $ROUNDS rounds"
if command -v cyclictest >/dev/null; then
    LD_PRELOAD="$PWD/.build/anchors/malloc_count.so" .build/release/loop-compare --rounds "$ROUNDS" --seconds "${LOOP_SECONDS:-5}"
else
    echo "skipped: cyclictest is needed for the anchor (apt-get install rt-tests)"
fi

step "chi-compare: chi for CPMG-1...64 under 1/f, Sequences vs filter-functions at equal accuracy"
if python3 -c 'import filter_functions' 2>/dev/null; then
    .build/release/chi-compare --anchor Anchors/chi_filter_functions.py --rounds "${CHI_ROUNDS:-3}" --accuracy 1e-4
else
    echo "skipped: python3 with filter-functions is needed for the anchor (pip install filter-functions)"
fi

step "compile-compare: sample-level CPMG-64 waveforms at 2.5 GS/s, SequenceCompiler vs numpy"
if python3 -c 'import numpy' 2>/dev/null; then
    .build/release/compile-compare --anchor Anchors/cpmg_numpy.py --rounds "$ROUNDS"
else
    echo "skipped: python3 with numpy is needed for the anchor (pip install numpy)"
fi

step "realm-compare: confirmed allocations/s vs ML-DSA-65 verification alone, quote latency, fairness"
# SQLite always; PostgreSQL too when QRRM_TEST_POSTGRES_URL is set (Tests/support/postgres.sh prints one).
.build/release/realm-compare --rounds "${REALM_ROUNDS:-3}" --allocations "${ALLOCATIONS:-4000}"
# Again with 64 clients, a load that keeps both cores busy: the realm's rate, not one client's latency.
.build/release/realm-compare --rounds "${REALM_ROUNDS:-3}" --clients 64 --allocations 6400

step "ordo-one benchmarks (per message: scalingFactor .kilo, one iteration = 1000 messages)"
swift package benchmark --target ZeroMQThroughput --no-progress

step "mallocCountTotal per iteration of 1000 messages, unscaled (--scale)"
swift package benchmark --target ZeroMQThroughput --no-progress \
    --metric mallocCountTotal --scale
