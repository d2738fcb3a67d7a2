"""The one place a sweep builds a variant: ``archcalc.params.load_variant`` (what ``--set`` does
for a single run), so that a sweep's variant is the network a plain load gives."""
from __future__ import annotations

import os
from typing import Any

from .. import params


def load_variant(job, settings: dict[str, Any]):
    """(network, analyze options) of one variant. The SPEC is the one the command was given
    where this process can read it; elsewhere (standard input, a cluster worker that does not
    see the file) its text, read once by the command, under the file's name."""
    arg, options = job.spec_arg, dict(job.load_options)
    if job.text is not None and (arg == "-" or not os.path.exists(arg)):
        arg, options["label"] = job.text, job.file
    return params.load_variant(arg, settings, **options)
