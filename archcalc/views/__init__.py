"""Views: what archcalc shows. Each renders figures it is given (a Report, a Diff, an estimate,
a sweep's rows); none computes one beyond unit formatting and shares of a total.

``text`` (building blocks) · ``table`` (summary's per-layer table) · ``documents`` (JSON,
Markdown, CSV) · ``compare`` · ``explain`` · ``diff`` · ``latency`` · ``design`` (sizes, fit) ·
``sweep`` (a sweep's rows) · ``report/`` (the HTML and Markdown review, plots, the Pareto page) ·
``draw/`` (layer graphs and volume drawings) · ``notebook`` (Jupyter's views).
"""
