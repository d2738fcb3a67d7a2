import contextlib
import io
import os
import pathlib
import signal
import subprocess
import sys
import traceback
import warnings

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
DATA = ROOT / "tests" / "data"      # what tests read beyond the specs (nothing from outside)
GOLDEN = ROOT / "tests" / "golden"  # the views' exact output (tests/README.md: how to refresh)


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/ from what the code prints now (then review "
                          "the diff: the figures in them are checked by hand counts too)")


@pytest.fixture
def update_golden(request):
    return request.config.getoption("--update-golden")


@pytest.fixture
def specs_dir():
    return SPECS


def imported_by(*args: str) -> tuple[list[str], str]:
    """Run ``archcalc ARGS`` in a fresh interpreter (stdout a pipe); return the modules it
    imported (sys.modules at the end) and what it printed. A process of its own: what a fresh
    interpreter imports cannot be seen in this one, where the tests have imported everything."""
    import json
    code = ("import json, sys\nfrom archcalc.cli import main\n"
            f"try:\n    main({list(args)!r})\n"
            "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stderr.strip().splitlines()[-1]), p.stdout


def _environment(env, columns):
    """The environment of one archcalc run: this one less ARCHCALC_DEBUG (a traceback would
    replace the messages the tests read), COLUMNS fixed, and ``env``'s changes."""
    e = dict(os.environ)
    e.pop("ARCHCALC_DEBUG", None)
    e["COLUMNS"] = columns
    e.update(env or {})
    return e


_SPAWNED: list[subprocess.Popen] = []


def _default_signals() -> None:
    # a pytest run as a background job of a shell script starts with SIGINT ignored (POSIX
    # shells do that to background jobs without job control); its children would inherit it
    # and the tests that interrupt them would wait forever
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn(cmd, **kwargs) -> subprocess.Popen:
    """``subprocess.Popen(cmd, **kwargs)`` in a session of its own (a signal to its group never
    reaches pytest), SIGINT at its default action whatever pytest was started with, and killed
    with its group after the test if it is still running (a failed test leaves nothing
    behind)."""
    p = subprocess.Popen(cmd, start_new_session=True, preexec_fn=_default_signals, **kwargs)
    _SPAWNED.append(p)
    return p


@pytest.fixture(autouse=True)
def _reap_spawned():
    yield
    while _SPAWNED:
        p = _SPAWNED.pop()
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


def run_cli_process(*args, input_text=None, env=None, cwd=ROOT, columns="200"):
    """Run ``python -m archcalc.cli ARGS`` in a process of its own; a CompletedProcess (text).
    Only for what needs a real process: start-up imports, pipes, signals, file descriptors,
    ``python -m``, PYTHONPATH, an installed wheel. Everything else uses :func:`run_cli`."""
    return subprocess.run([sys.executable, "-m", "archcalc.cli", *map(str, args)],
                          capture_output=True, text=True, input=input_text,
                          env=_environment(env, columns), cwd=cwd)


def _capture(errors: str) -> io.TextIOWrapper:
    """A text stream over bytes (``.buffer`` too, for binary output), not a terminal, as a pipe
    to a process would be."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors=errors, write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    """What was written, as subprocess's text mode reads a pipe (universal newlines)."""
    stream.flush()
    data = stream.buffer.getvalue().decode("utf-8")
    return data.replace("\r\n", "\n").replace("\r", "\n")


@contextlib.contextmanager
def _process_state(env, cwd):
    """The state a process holds that one archcalc run may see or change: the environment
    (``env`` applied), the working folder, sys.argv, sys.path, the standard streams, the signal
    handlers and the warning filters. Everything is put back afterwards."""
    saved_env = dict(os.environ)
    saved = (sys.stdin, sys.stdout, sys.stderr, list(sys.argv), list(sys.path), os.getcwd())
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with warnings.catch_warnings():
            os.environ.clear()
            os.environ.update(env)
            os.chdir(cwd)
            yield
    finally:
        sys.stdin, sys.stdout, sys.stderr, sys.argv[:], sys.path[:], cwd0 = saved
        os.chdir(cwd0)
        if dict(os.environ) != saved_env:
            os.environ.clear()
            os.environ.update(saved_env)
        for s, h in handlers.items():
            if signal.getsignal(s) is not h and h is not None:
                signal.signal(s, h)


def run_cli(*args, input_text=None, env=None, cwd=ROOT, columns="200"):
    """Run ``archcalc ARGS`` in this process (``archcalc.cli.main``), as a separate process
    would: ``input_text`` is standard input (bytes underneath, not a terminal; empty where not
    given), stdout and stderr are captured (not terminals), ``env`` changes the environment
    for this call only, the working folder is ``cwd`` (the repository by default), and an exit
    becomes the return code. Returns a CompletedProcess (text), like :func:`run_cli_process`.
    Nothing of the call stays behind: every stream, variable and handler is put back."""
    from archcalc.cli import main
    argv = [str(a) for a in args]
    stdin = io.TextIOWrapper(io.BytesIO((input_text or "").encode("utf-8")), encoding="utf-8")
    out, err = _capture("strict"), _capture("backslashreplace")
    with _process_state(_environment(env, columns), cwd):
        sys.stdin, sys.stdout, sys.stderr = stdin, out, err
        sys.argv[:] = ["archcalc", *argv]
        try:
            main(argv)
            code = 0
        except SystemExit as exc:       # as the interpreter ends a process
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:
                err.write(f"{exc.code}\n")
                code = 1
        except KeyboardInterrupt:
            raise
        except BaseException:           # an uncaught error: the traceback, exit 1
            traceback.print_exc(file=err)
            code = 1
        sys.stdout.flush()
    return subprocess.CompletedProcess(["archcalc", *argv], code, _text(out), _text(err))


def import_torchvision():
    """(torch, torchvision), torchvision's compiled ops stood in for where they do not load
    with this torch (the CPU build the tests run on): each op it asks for is defined as a
    placeholder schema, which is all the model definitions need. Skips without torch or where
    torchvision still does not import. timm imports torchvision: call this first."""
    import re
    torch = pytest.importorskip("torch")
    lib = None
    for _ in range(8):
        try:
            import torchvision
            return torch, torchvision
        except Exception as exc:          # (RuntimeError, AttributeError: an op it cannot find)
            m = re.search(r"torchvision::(\w+)", str(exc))
            if m is None:
                pytest.skip(f"torchvision does not import: {exc}")
            lib = lib or torch.library.Library("torchvision", "DEF")
            _TORCHVISION_STANDINS.append(lib)
            lib.define(f"{m.group(1)}(Tensor x) -> Tensor")
            for k in [k for k in sys.modules if k.startswith("torchvision")]:
                del sys.modules[k]
    pytest.skip("torchvision does not import")


_TORCHVISION_STANDINS: list = []      # (the libraries must live as long as the process)


def torch_figures(torch, model, shape=(1, 3, 224, 224)):
    """An independent PyTorch model's figures, in eval mode: (parameters, buffers without
    BatchNorm's num_batches_tracked counters, FLOPs as torch's FlopCounterMode counts them —
    2 per multiply-add of conv and matmul —, the output for a zero input of ``shape``)."""
    from torch.utils.flop_counter import FlopCounterMode
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for name, b in model.named_buffers()
                  if not name.endswith("num_batches_tracked"))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(torch.zeros(*shape))
    return params, buffers, counter.get_total_flops(), y

