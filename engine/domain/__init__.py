"""The domain: aggregates (one module each), their events and rules, values, errors,
business calendars, the clock and geometry. No I/O; imports nothing of the store or the
application.
"""
