"""The one power budget and the manager that applies it to the connectors."""
