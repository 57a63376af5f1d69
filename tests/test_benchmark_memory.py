"""benchmarks/memory.py: a real encode and decode in child processes, each with its own peak memory."""

from __future__ import annotations

import pytest
from benchmark_modules import load_benchmark

memory = load_benchmark("memory", "benchmark_memory")  # memory.py reuses speed.py's helpers


def test_each_direction_reports_its_own_child_processes_peak(tmp_path):
    rows = memory.measure("96x64", 2, "cpu", "1", tmp_path)
    assert [row[:2] for row in rows] == [("96x64", "encode"), ("96x64", "decode")]
    peaks = [float(row[2].replace(",", "")) for row in rows]
    assert all(100 < peak < 4000 for peak in peaks)  # torch and the model alone are about 280 MiB
    assert [row[3] for row in rows] == ["-", "-"]
    assert list(tmp_path.iterdir()) == []  # source, bitstream and decoded file are removed


def test_the_docs_block_is_replaced_between_its_markers_only():
    text = f"before\n{memory.DOCS_BEGIN}\nold\n{memory.DOCS_END}\nafter\n"
    assert memory.replace_block(text, "new\n") == f"before\n{memory.DOCS_BEGIN}\nnew\n{memory.DOCS_END}\nafter\n"
    with pytest.raises(SystemExit, match="no"):
        memory.replace_block("no markers here", "new\n")


def test_the_performance_page_has_exactly_one_memory_block():
    text = memory.DOCS.read_text()
    assert text.count(memory.DOCS_BEGIN) == 1 and text.count(memory.DOCS_END) == 1


def test_the_child_codes_with_the_weights_it_is_given(tmp_path):
    with pytest.raises(SystemExit, match="encode failed"):
        memory.measure("96x64", 2, "cpu", "1", tmp_path, weights=str(tmp_path / "missing.intra.cmfrw"))
