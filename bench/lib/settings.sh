# The server settings of the throughput benchmarks (bench/run.sh,
# bench/volume.sh, bench/subscriptions.sh; sourced by bench/lib/cluster.sh),
# so that their figures are comparable.  Each one that differs from initdb's defaults;
# es_start_cluster adds port, socket, max_connections = 60 and fsync = off,
# and the later fsync = on wins.  Durability is PostgreSQL's default: every
# commit waits for its WAL flush.
BENCH_SETTINGS=(
    "shared_preload_libraries = 'eventstore'"
    "fsync = on"
    "synchronous_commit = on"
    "shared_buffers = 1GB"
    "max_wal_size = 8GB"
    "checkpoint_timeout = 15min"
)
