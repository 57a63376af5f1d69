"""Codec comparisons: cmfr against x264, x265 and SVT-AV1 on the same sequences, scored the same way.

``settings`` holds the choices and defaults, ``sources`` finds the sequences (files, folders, DCVC
dataset configs), ``baselines`` drives the PyAV encoders, ``jobs`` codes, decodes and scores one
(sequence, codec, rate point), ``runner`` runs jobs in processes, ``bdrate`` computes BD-rates,
``report`` and ``plot`` write the results, and ``compare`` ties them together::

    from cmfr_codec.evaluation.compare import Comparison, plan, run_comparison

    comparison = Comparison(inputs=(Path("clip.y4m"),), codecs=("cmfr", "x264"), output=Path("report.json"))
    report = run_comparison(comparison, plan(comparison))

See docs/eval.md.  Importing this package is cheap; the modules that need torch or PyAV load them.
"""
