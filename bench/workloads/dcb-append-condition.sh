# dcb-append-condition: a DCB command's append (docs/dcb.md): one event
# tagged with the command's id, no stream (it gets one of its own), with a
# two-item condition on that id (the idempotent command of dcb.events), by
# es_append_if; against append-single's plain es_append of one event with
# an exact expected version.
# Sourced by bench/run.sh (the variables are explained there).
WL_TITLE="one event with a two-item append condition"
WL_EVENTS=1
WL_CONTENDERS=(
    "es-if bench dcb-append-condition/es-if"
    "es    bench append-single/es"
)
WL_TARGETS=(
    "es 0.80 es_append_if with a two-item condition >= 0.8 x plain es_append"
)
