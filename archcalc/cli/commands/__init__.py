"""One module per command (``archcalc.cli.entry.COMMANDS`` lists them): each parses its options,
calls one library function and picks a view; no figure is computed here."""
