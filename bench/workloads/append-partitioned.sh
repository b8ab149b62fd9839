# append-partitioned: append-single's es_append into a store in the
# partitioned layout (docs/partitioning.md, 1,000,000 positions per
# partition) against the same into a plain store, both new.
WL_TITLE="append-single in a partitioned store vs a plain one"
WL_EVENTS=1
WL_CONTENDERS=(
    "es-part  bench_part  append-single/es"
    "es-plain bench_plain append-single/es"
)
WL_TARGETS=(
    "es-plain 0.90 appends to a partitioned store >= 0.90 x a plain store"
)
wl_setup() {
    bench_new_db bench_plain
    PGOPTIONS="-c eventstore.partition_size=1000000" bench_new_db bench_part
}
