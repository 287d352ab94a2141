"""HTTP routes of the GP system, one module per resource or operation."""
