"""The bundled sample company: a fictional retailer whose data feeds the demo."""
