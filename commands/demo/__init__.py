"""`serviceorder demo`: a believable water-purifier service company in a fresh store.

``cast`` holds the people, products and places; ``story`` plays two months of their business
through the application's commands, on the demo clock (commands/democlock.py).
"""
