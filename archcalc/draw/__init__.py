"""Drawings of a network for design reviews (``archcalc draw``).

``archcalc.draw.graph``: the layer graph as SVG (archcalc's own layered layout, or Graphviz's),
PNG, Graphviz DOT and Mermaid, with each layer's figures in its box and an optional heat map;
``archcalc.draw.volumes``: the classic drawing of volumes as boxes. Nothing here is imported by
``archcalc summary``.
"""
