"""The operators' HTTP API (FastAPI). ``app.create_app`` assembles it; routes live per resource."""
