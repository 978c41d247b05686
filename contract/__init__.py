"""The published contract as plain names: what the event backbone carries and what every
reader may rely on. Imports nothing; the engine, the relay, the AsyncAPI generator, the
projections and the pages all take these names from here (``contract.names``).
"""
