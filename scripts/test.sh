#!/usr/bin/env bash
# The project's test command (the README's second line). Starts what the tests need,
# then runs every test in the workspace twice: on the embedded SQLite, then on PostgreSQL
# (one suite, the backend chosen by DATABASE_URL's scheme; shared/tests/common/db.rs).
# `cargo test` alone runs the SQLite half of the library's tests, with nothing installed.
#
# - PostgreSQL: reuses $DATABASE_URL when set, else starts a throwaway cluster under
#   target/pg (scripts/pg.sh; installs Debian's postgresql package when missing).
# - Kafka: reuses $KAFKA_BROKERS when set, else starts a single-node KRaft broker
#   (scripts/kafka.sh; jars cached by scripts/install-kafka.sh) on free loopback ports in a
#   fresh target/kafka-test.<pid>, stopped and removed when the tests end (so concurrent runs
#   do not share one). KAFKA_KEEP=1 uses target/kafka-test instead and leaves it running; a
#   later KAFKA_KEEP=1 run reuses it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z ${DATABASE_URL:-} ]]; then
    eval "export $(scripts/pg.sh start)"
fi
export DATABASE_URL
echo "test: DATABASE_URL=${DATABASE_URL%%@*}@…" >&2

free_ports() { # two free loopback ports: the client listener and the KRaft controller
    python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))'
}

stop_kafka() { # keeps the tests' exit status
    local rc=$?
    scripts/kafka.sh stop || true
    rm -rf "$KAFKA_DATA_DIR"
    exit "$rc"
}

if [[ -z ${KAFKA_BROKERS:-} ]]; then
    # Brokers of earlier runs that were killed before they could clean up.
    for dir in target/kafka-test.*; do
        [[ -d $dir ]] || continue
        kill -0 "${dir##*.}" 2>/dev/null && continue
        KAFKA_DATA_DIR=$PWD/$dir scripts/kafka.sh stop >/dev/null 2>&1 || true
        rm -rf "$dir"
    done
    if [[ ${KAFKA_KEEP:-0} == 1 ]]; then
        export KAFKA_DATA_DIR=$PWD/target/kafka-test
    else
        export KAFKA_DATA_DIR=$PWD/target/kafka-test.$$
    fi
    if scripts/kafka.sh status >/dev/null 2>&1; then
        # Left running by an earlier KAFKA_KEEP=1 run: its port is in its configuration.
        port=$(sed -n 's|^advertised\.listeners=PLAINTEXT://127\.0\.0\.1:\([0-9]*\)$|\1|p' \
            "$KAFKA_DATA_DIR/server.properties")
        [[ -n $port ]] || { echo "test: cannot read the port of the Kafka in $KAFKA_DATA_DIR" >&2; exit 1; }
        echo "test: reusing the Kafka running in $KAFKA_DATA_DIR" >&2
    else
        read -r port controller_port < <(free_ports)
        rm -rf "$KAFKA_DATA_DIR/data" # fresh storage: no topics of earlier runs
        [[ ${KAFKA_KEEP:-0} == 1 ]] || trap stop_kafka EXIT
        KAFKA_PORT=$port KAFKA_CONTROLLER_PORT=$controller_port scripts/kafka.sh start
    fi
    export KAFKA_BROKERS=127.0.0.1:$port
fi
echo "test: KAFKA_BROKERS=$KAFKA_BROKERS" >&2

echo "test: the suite on SQLite" >&2
# `sqlite:` picks the backend; each test process keeps its own database file in the temp
# directory (shared/tests/common/db.rs).
DATABASE_URL=sqlite: cargo test --workspace --locked "$@"
echo "test: the suite on PostgreSQL" >&2
cargo test --workspace --locked "$@"
