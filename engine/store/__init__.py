"""The event store: hash-chained events, group commit, personal-data sealing, the audit
reader and the store's configuration. Imports the domain, never the application.
"""
