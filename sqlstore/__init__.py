"""Our own SQL (psycopg2 on PostgreSQL, sqlite3 embedded): the connection pool with its
transactions and cursors (``sqldb``) and the personal-data key store (``keystore``). Used by
the relay's checkpoints (streams), the views (projections) and token auth (commands); the
event store itself is eventsourcing's, through psycopg 3.
"""
