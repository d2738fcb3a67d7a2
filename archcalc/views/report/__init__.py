"""Design reviews: ``archcalc report SPEC... -o review.html`` (or ``review.md``).

- :mod:`.series`: the series the plots show, taken from the Report (the live-memory curve is
  a replay of :class:`archcalc.analysis.memory.Storage` over the Report's rows, the definition
  the analysis pass uses; nothing here imports a plotting library).
- :mod:`.plots`: those series as SVG charts (pygal: the optional extra ``archcalc[report]``;
  see docs/report.md for why pygal).
- :mod:`.html`: one self-contained HTML file (no external URL); its table and totals are also
  ``Report._repr_html_`` in Jupyter.
- :mod:`.markdown`: the pull-request version, with the charts as SVG files beside it.
- :mod:`.build`: a review's sections, drawings and files (``archcalc report``).
- :mod:`.front`: the page of a sweep's Pareto front.
"""
