# eventstore: PGXS build. `pg_config` is taken from PATH.
EXTENSION   = eventstore
# The head version lives in one place: the control file's default_version.
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big  = eventstore
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The head version's install script is assembled from one file per concern
# (src/sql/NN_*.sql), so that each feature's declarations live beside its C
# code.  Released install scripts (eventstore--1.0.sql, ...) are committed and
# frozen: releases.sha256 holds their checksums and the build stops if one
# changed (docs/releasing.md).  Upgrade scripts eventstore--A--B.sql carry a
# released database to the next version.
SQL_PARTS   = $(sort $(wildcard src/sql/*.sql))
DATA_built  = $(EXTENSION)--$(EXTVERSION).sql
DATA        = $(filter-out $(DATA_built),$(wildcard $(EXTENSION)--*.sql)) \
              $(wildcard $(EXTENSION)--*.control)

# The tests `make installcheck` runs against an installed server (which
# must have shared_preload_libraries = 'eventstore' for the isolation specs
# and TAP tests to mean what they say; the TAP tests start their own clusters
# and must run as a user other than root).  Listed, not globbed: 00_setup
# defines helpers the others use, so it comes first by its place in the
# list, not by sort order.  test/suites/10_regress.sh and 20_isolation.sh
# run the same lists in `make test` and fail if a file is missing from them.
REGRESS      = 00_setup append append_edge_cases bad_input checkpoints ddl_guard \
               feed insert_path lifecycle load names position_limit queries read_only shard \
               partitions_plain projections snapshots stream_limit subscriptions dcb stream_read
# pg_regress tests: test/regress/sql/*.sql, expected output in
# test/regress/expected/ (every test tree under test/ has that shape: test/README.md).
REGRESS_OPTS = --inputdir=test/regress --load-extension=$(EXTENSION)

# Isolation specs (test/isolation/specs/*.spec, expected output in
# test/isolation/expected/).
ISOLATION      = checkpoint_race delete_append_race direct_insert_counter \
                 expected_version_race feed_no_skip idempotent_retry_race \
                 multi_stream_deadlock read_check_race read_gap_snapshot retention_race shard_identity_race \
                 snapshot_append_race subscription_checkpoint subscription_join_leave \
                 subscription_lease subscription_pinned wait_wakeup \
                 dcb_condition_race dcb_after_slip dcb_no_false_conflict
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=$(EXTENSION)

# Perl TAP tests (PostgreSQL::Test::Cluster) live in test/t/, not PGXS's
# default t/: PROVE_TESTS points prove_installcheck there.  They start their
# own clusters from the installed server's binaries.
TAP_TESTS   = 1
PROVE_TESTS = $(sort $(wildcard test/t/*.pl))

# The build must stay clean with these on (PostgreSQL's fmgr macros trip the
# two that are switched off).  `make WERROR=-Werror` turns warnings into errors.
WERROR     ?=
PG_CFLAGS   = -Wextra -Wno-unused-parameter -Wno-missing-field-initializers $(WERROR)
PG_CPPFLAGS = -I$(srcdir)/src

EXTRA_CLEAN = $(DATA_built) output_iso tmp_install tmp_check log

PG_CONFIG  ?= pg_config
PGXS       := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The TAP tests' helper modules (test/t/*.pm) are found beside them; set
# after PGXS, whose Makefile.global empties PROVE_FLAGS.
PROVE_FLAGS += -I $(srcdir)/test/t

$(DATA_built): $(SQL_PARTS)
	cat $(SQL_PARTS) > $@

all: check-frozen $(DATA_built)

# A released script never changes again: compare each with its checksum.
check-frozen:
	@sha256sum --quiet --check releases.sha256 || { \
	    echo "a released install or upgrade script differs from the release (releases.sha256):" \
	         "released scripts are frozen; put changes into the next upgrade script" >&2; exit 1; }

.PHONY: test demo bench bench-correlation bench-subscriptions bench-volume deps check-frozen print-regress print-isolation package-test dist
# The test lists, for the suites of `make test` (one home for each list).
print-regress:
	@echo $(REGRESS)
print-isolation:
	@echo $(ISOLATION)

deps:
	test/install-deps.sh

test:
	test/run-all.sh

# Check the release files agree (META.json, control file, debian/), build
# the Debian source and binary packages from the `make dist` tarball, run
# lintian, install the package and run its autopkgtest (make installcheck on
# a cluster with the library preloaded), then remove it again (root; .ci/run
# runs it after `make test`).
package-test:
	test/package-test.sh

# The release tarball: the tracked files of DIST_REF (default HEAD) with
# META.json at its top.  One file serves PGXN and is the Debian package's
# orig tarball (eventstore_<version>.orig.tar.gz), so it is named for the
# release version, which PGXN wants in three parts: META.json's "version"
# is the SQL version with ".0" (1.1 -> 1.1.0), and so is the upstream part
# of debian/changelog's version.  test/package-test.sh checks all four agree.
DISTVERSION = $(EXTVERSION).0
DIST_REF   ?= HEAD
dist:
	git archive --format=tar.gz --prefix=$(EXTENSION)-$(DISTVERSION)/ -o $(EXTENSION)-$(DISTVERSION).tar.gz $(DIST_REF)

demo:
	test/install-deps.sh
	$(MAKE) WERROR=-Werror
	$(MAKE) install
	demo/run-demo.sh

bench:
	bench/run.sh $(BENCH_ARGS)

# Reads of one correlation id in a store of 10,000,000 events (docs/benchmarks.md).
bench-correlation:
	bench/correlation.sh $(BENCH_ARGS)

# Subscribers of the global feed under load: es_wait, LISTEN/NOTIFY, polling;
# catch-up reading of a 10,000,000-event backlog (docs/benchmarks.md).
bench-subscriptions:
	bench/subscriptions.sh $(BENCH_ARGS)

# Flat costs at volume (issue 14): appends, stream loads and feed pages in a
# store of 50,000,000 events against small stores, bytes per event against a
# Message DB-shaped table (docs/benchmarks.md, "Volume").  Hours, not minutes;
# `bench/volume.sh --quick` checks it in a few.
bench-volume:
	bench/volume.sh $(BENCH_ARGS)
