"""YAML limits say which limit a spec meets: a long spec without aliases meets the layer limit
(fast), not the alias budget; a deep chain of distinct blocks meets the block nesting depth,
shown as a readable chain, and only a chain that repeats a block is called recursive."""
from __future__ import annotations

import importlib
import time

import pytest
from conftest import run_cli, run_cli_process

import archcalc
from archcalc.errors import ArchcalcError
from archcalc.graph import MAX_LAYERS
from archcalc.spec.yaml import MAX_BLOCK_DEPTH, MAX_NODES
from archcalc.spec.yaml.compose import compose_yaml

COMPOSE = importlib.import_module("archcalc.spec.yaml.compose")


def errors(text: str):
    with pytest.raises(ArchcalcError) as exc:
        archcalc.parse(text)
    return exc.value.diagnostics


def test_a_long_spec_without_aliases_meets_the_layer_limit_fast(tmp_path):
    """1.2 million one-layer items (no alias anywhere): more layers than archcalc analyzes."""
    n = 1_200_000
    path = tmp_path / "long.yaml"
    path.write_text("name: long\ninput: 8x8x3\nlayers:\n" + "  - R\n" * n)
    start = time.monotonic()
    p = run_cli("summary", str(path))
    took = time.monotonic() - start
    assert p.returncode == 1
    assert "alias" not in p.stderr.replace(str(path), "")
    assert f"more than the {MAX_LAYERS:,} layers archcalc analyzes" in p.stderr
    # the item where the limit is passed: line 3 + 1,000,001
    assert f"long.yaml:{3 + MAX_LAYERS + 1}:" in p.stderr
    assert took < 20, took                    # seconds (it took 30 s and more before)


def test_values_without_aliases_are_not_an_alias_bomb(monkeypatch):
    """More YAML values than the alias budget, written out, are read (the budget is on what
    aliases expand to); as many through an alias are not (the budget lowered to 1,000 here)."""
    monkeypatch.setattr(COMPOSE, "MAX_NODES", 1000)
    spec = compose_yaml("name: wide\nlayers: [R]\nxs: [" + "0, " * 3000 + "0]\n", "<spec>")
    assert len(spec["xs"]) == 3001
    text = "a: &a [" + "0, " * 300 + "0]\nb: [*a, *a, *a, *a]\n"
    with pytest.raises(ArchcalcError) as exc:
        compose_yaml(text, "<spec>")
    assert "aliases expand to more than 1,000 values" in str(exc.value)


def test_an_alias_bomb_is_still_refused():
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    bomb = "name: x\ninput: 8x8x3\ndefaults:\n  " + "\n  ".join(lines) + "\nlayers: [C]\n"
    (d,) = errors(bomb)
    assert "aliases" in d.message and f"{MAX_NODES:,}" in d.message


def _chain(n: int, last: str = "R") -> str:
    lines = ["name: deep", "input: 8x8x3", "blocks:"]
    for i in range(n):
        lines += [f"  b{i:03d}:", "    layers:",
                  f"      - {{block: b{i + 1:03d}}}" if i < n - 1 else f"      - {last}"]
    return "\n".join(lines + ["layers:", "  - {block: b000}"]) + "\n"


def test_distinct_nested_blocks_meet_the_nesting_depth():
    (d,) = errors(_chain(200))
    assert f"blocks nest deeper than {MAX_BLOCK_DEPTH} levels" in d.message
    assert "itself" not in d.message and "recurs" not in d.message
    # the chain of blocks, readably: b000 → b001 → … → b016, not glued instance names
    assert "b000 → b001 → b002 → … → b015 → b016" in d.message
    assert "b0001/b0011" not in d.message
    assert "block nesting depth" in d.hint
    # 16 levels are fine
    assert len(archcalc.parse(_chain(MAX_BLOCK_DEPTH)).layers) == 2


def test_a_block_that_instantiates_itself_is_named_recursive():
    text = ("name: rec\ninput: 8x8x3\nblocks:\n  a:\n    layers:\n      - {block: b}\n"
            "  b:\n    layers:\n      - {block: a}\nlayers:\n  - {block: a}\n")
    (d,) = errors(text)
    assert d.message == (f"blocks nest deeper than {MAX_BLOCK_DEPTH} levels: block 'a' "
                         "instantiates itself (a → b → a)")
    assert "a1/b1/a1" not in d.message


@pytest.mark.parametrize("items, line", [
    # 1,200 instances of a one-layer block: instance 1,001 (line 7 + 1,000) passes the limit
    ("blocks:\n  b:\n    layers: [R]\nlayers:\n" + "  - {block: b}\n" * 1200, 1007),
    # token strings of two layers each: item 501 (line 4 + 500) makes layers 1,001 and 1,002
    ("layers:\n" + "  - (R)x2\n" * 600, 504)])
def test_the_layer_limit_is_one_error_where_it_is_passed(monkeypatch, items, line):
    """(the limit lowered to 1,000 here) Every item after the one that passes the limit would
    fail the same way: one error, at the list item that passed it, not one per item after it
    nor one at the block's own layer."""
    for module in ("archcalc.graph", "archcalc.spec.yaml.compose", "archcalc.spec.yaml.emit"):
        monkeypatch.setattr(importlib.import_module(module), "MAX_LAYERS", 1000)
    (d,) = errors("name: x\ninput: 8x8x3\n" + items)
    assert d.message == "the spec has more than the 1,000 layers archcalc analyzes"
    assert d.pos.line == line


def test_brackets_nested_past_any_stack_are_one_error(tmp_path):
    """100,000 nested brackets: one error (libyaml's composer, which recurses in C, is not
    given such a text: in a new process, so that a crash would show)."""
    path = tmp_path / "deep.yaml"
    path.write_text("name: x\nlayers: " + "[" * 100_000 + "]" * 100_000 + "\n")
    p = run_cli_process("summary", str(path))
    assert p.returncode == 1 and "nests too deeply" in p.stderr, (p.returncode, p.stderr)
