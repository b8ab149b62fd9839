# dcb-course: the course-subscription command of dcb.events (a course takes
# 30 students, a student at most 5 courses; 10,000 courses, 100,000
# students, so that runs of a few seconds subscribe rather than refuse),
# run by a PL/pgSQL function per command: read, decide, append.  eventstore:
# es_load_query of the command's two items, then es_append_if with the
# condition, a failed condition (ES016) retried from a fresh read.  The
# baseline: the same command over a table of tagged events in PL/pgSQL that
# first takes exclusive advisory locks per (type, tag) of its query, sorted,
# then reads and inserts (the design of kraken-tech's DCB store).  Counted:
# commands (subscribed or refused by the rules), per second.
WL_TITLE="course subscription command (read, decide, append)"
WL_EVENTS=1
WL_CONTENDERS=(
    "es  bench_dcb_course dcb-course/es"
    "sql bench_dcb_course dcb-course/sql"
)
WL_TARGETS=(
    "sql 2.0 DCB course subscription >= 2 x PL/pgSQL with advisory locks per (type, tag)"
)
wl_setup() {
    bench_new_db bench_dcb_course
    $PSQL -d bench_dcb_course -f bench/workloads/dcb-course/setup.sql >/dev/null
}
