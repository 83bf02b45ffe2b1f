"""Persistence that loses nothing on power loss (SQLite, WAL)."""
