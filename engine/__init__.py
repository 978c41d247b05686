"""The write side: aggregates, their events and rules, and the application service.

Nothing in this package imports web, Kafka or SQL code; the outer layers call in.
"""
