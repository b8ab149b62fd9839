# eventstore: PGXS build. `pg_config` is taken from PATH.
EXTENSION   = eventstore
EXTVERSION  = 1.0

MODULE_big  = eventstore
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The install script is assembled from one file per concern (src/sql/NN_*.sql),
# so that each feature's declarations live beside its C code.
SQL_PARTS   = $(sort $(wildcard src/sql/*.sql))
DATA_built  = $(EXTENSION)--$(EXTVERSION).sql
DATA        = $(wildcard $(EXTENSION)--*--*.sql)

REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

# The build must stay clean with these on (PostgreSQL's fmgr macros trip the
# two that are switched off).  `make WERROR=-Werror` turns warnings into errors.
WERROR     ?=
PG_CFLAGS   = -Wextra -Wno-unused-parameter -Wno-missing-field-initializers $(WERROR)
PG_CPPFLAGS = -I$(srcdir)/src

EXTRA_CLEAN = $(DATA_built) output_iso tmp_install tmp_check log

PG_CONFIG  ?= pg_config
PGXS       := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(DATA_built): $(SQL_PARTS)
	cat $(SQL_PARTS) > $@

all: $(DATA_built)

.PHONY: test demo bench deps
deps:
	test/install-deps.sh

test:
	test/run-all.sh

demo:
	test/install-deps.sh
	$(MAKE) WERROR=-Werror
	$(MAKE) install
	demo/run-demo.sh

bench:
	bench/run.sh $(BENCH_ARGS)
