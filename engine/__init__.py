"""The write side, in three layers: ``domain`` (aggregates, values, rules; no I/O),
``store`` (the event store as configured: hash chain, group commit, sealing) and
``application`` (unit of work, one handler per workflow, cross-workflow policies, the
ServiceOrderApp facade). Nothing here imports web, Kafka or our own SQL code; the outer
layers call in. docs/architecture.md has the import rules.
"""
