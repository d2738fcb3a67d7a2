"""Shared by the design-space tests (params, budgets, sizes, fit): the CLI run in-process."""
from archcalc.cli import main


def cli(capsys, *args) -> tuple[int, str, str]:
    """Run ``archcalc ARGS`` in this process; (exit code, stdout, stderr)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    out, err = capsys.readouterr()
    return code, out, err
