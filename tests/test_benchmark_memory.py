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


def test_a_gpu_table_replaces_the_gpu_block_and_leaves_the_cpu_block():
    text = (f"{memory.DOCS_BEGIN}\ncpu\n{memory.DOCS_END}\n"
            f"{memory.GPU_DOCS_BEGIN}\nold\n{memory.GPU_DOCS_END}\n")
    replaced = memory.replace_block(text, "gpu\n", (memory.GPU_DOCS_BEGIN, memory.GPU_DOCS_END))
    assert replaced == (f"{memory.DOCS_BEGIN}\ncpu\n{memory.DOCS_END}\n"
                        f"{memory.GPU_DOCS_BEGIN}\ngpu\n{memory.GPU_DOCS_END}\n")


def test_the_performance_page_has_exactly_one_cpu_and_one_gpu_memory_block():
    text = memory.DOCS.read_text()
    for marker in (memory.DOCS_BEGIN, memory.DOCS_END, memory.GPU_DOCS_BEGIN, memory.GPU_DOCS_END):
        assert text.count(marker) == 1, marker


def test_the_child_codes_with_the_weights_it_is_given(tmp_path):
    with pytest.raises(SystemExit, match="encode failed"):
        memory.measure("96x64", 2, "cpu", "1", tmp_path, weights=str(tmp_path / "missing.intra.cmfrw"))
