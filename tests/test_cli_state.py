"""``archcalc.cli.main`` holds no state between calls: called many times in one process it gives,
call after call, exactly what as many fresh processes give (exit code, stdout and stderr).

The calls alternate what could stick: an option that changes how an ONNX model is read
(``--unknown passthrough``, then not, then again), standard input with different text, a
parameter given with ``--set`` and then left at its default, a data type and an input size given
and then not, an error between successes."""
import json

import pytest
from conftest import run_cli, run_cli_process

pytest.importorskip("onnx")
from test_onnx_import import nms_model, write

PIPED_YAML = "name: piped\ninput: 8x8x3\nlayers: [C3D8, M, FC10]\n"
PIPED_STRING = "C5D4 R M FC7"
WIDE = "name: wide\ninput: 16x16x3\nparams: {width: 8}\nlayers:\n" \
       "  - {op: conv, filters: \"${width}\", kernel: 3, padding: 1}\n  - FC10\n"


def outcome(p):
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def calls(tmp_path):
    """(arguments, standard input) of each call, in the order they are made."""
    model = write(nms_model(), tmp_path)
    wide = tmp_path / "wide.yaml"
    wide.write_text(WIDE)
    return [
        (("summary", model, "--unknown", "passthrough"), None),
        (("summary", model), None),
        (("summary", model, "--unknown", "passthrough", "-F", "json"), None),
        (("summary", "-", "-F", "json"), PIPED_YAML),
        (("summary", "-", "-i", "32x32x1", "-F", "json"), PIPED_STRING),
        (("summary", "-", "-F", "json"), PIPED_YAML),
        (("summary", wide, "--set", "width=4", "--dtype", "fp16", "-F", "json"), None),
        (("summary", wide, "-F", "json"), None),
        (("summary", wide, "--set", "width=banana"), None),
        (("summary", wide), None),
    ]


def test_main_holds_no_state_between_calls(calls):
    one_process = [run_cli(*args, input_text=text) for args, text in calls]
    fresh = [run_cli_process(*args, input_text=text) for args, text in calls]
    for (args, _), got, want in zip(calls, one_process, fresh):
        assert outcome(got) == outcome(want), args

    codes = [p.returncode for p in one_process]
    # an op archcalc does not know: readable with passthrough; without it, an error about the
    # model (exit 1, docs/onnx-import.md: the model is readable, archcalc cannot analyze it)
    assert codes[:3] == [0, 1, 0]
    assert "unsupported op 'acme.Mystery' (3 nodes" in one_process[1].stderr
    assert "ONNX Mystery (not counted)" in one_process[0].stdout
    assert [r["op"] for r in json.loads(one_process[2].stdout)["layers"]].count("opaque") == 3

    # standard input read afresh each time: conv 3·3·3·8 + 8 = 224, fc 4·4·8·10 + 10 = 1290;
    # the string on a 32×32×1 input: conv 5·5·1·4 + 4 = 104 (padded: 32×32 stays), the pool
    # 16×16, fc 16·16·4·7 + 7 = 7,175
    piped = [json.loads(one_process[i].stdout) for i in (3, 4, 5)]
    assert [d["totals"]["params"] for d in piped] == [224 + 1290, 104 + 7175, 224 + 1290]
    assert [d["input"] for d in piped] == [[8, 8, 3], [32, 32, 1], [8, 8, 3]]

    # --set width=4 with fp16, then neither: conv 27·4 + 4 = 112, fc 16·16·4·10 + 10 = 10,250;
    # width 8: 27·8 + 8 = 224, 16·16·8·10 + 10 = 20,490; 2 bytes an element, then 4
    narrow, default = (json.loads(one_process[i].stdout) for i in (6, 7))
    assert narrow["totals"]["params"] == 112 + 10_250
    assert default["totals"]["params"] == 224 + 20_490
    assert narrow["totals"]["param_bytes"] == 2 * narrow["totals"]["params"]
    assert default["totals"]["param_bytes"] == 4 * default["totals"]["params"]
    assert codes[8] == 2 and codes[9] == 0              # a bad --set value, then none


def test_run_cli_puts_the_process_back(tmp_path, monkeypatch):
    """run_cli itself leaves nothing behind: the streams, the environment (its own changes and
    the command's), the working folder and sys.argv are this process's again after a call, and
    an error exit is a return code, not an exception."""
    import os
    import sys
    monkeypatch.setenv("ARCHCALC_DEBUG", "1")        # unset for the call, back afterwards
    before = (sys.stdin, sys.stdout, sys.stderr, dict(os.environ), os.getcwd(), list(sys.argv))
    p = run_cli("summary", "-", "-F", "json", input_text=PIPED_YAML, cwd=tmp_path,
                env={"ARCHCALC_TEST_PROBE": "x"})
    assert p.returncode == 0 and json.loads(p.stdout)["name"] == "piped"
    bad = run_cli("summary", "C3D8", "--batch", "0")
    assert bad.returncode == 2 and bad.stdout == "" and "--batch" in bad.stderr
    after = (sys.stdin, sys.stdout, sys.stderr, dict(os.environ), os.getcwd(), list(sys.argv))
    assert after == before and "ARCHCALC_TEST_PROBE" not in os.environ
