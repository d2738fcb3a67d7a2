"""``python -m archcalc.cli``: the archcalc command."""
from .entry import main

main()
