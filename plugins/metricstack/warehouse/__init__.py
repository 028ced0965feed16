"""The warehouse database: its schemas, roles and connections."""
