"""The live pipeline: sources, capture thread, tracker, sinks (DESIGN §4).

Import what you need from the submodules (``stream.sources``, ``stream.tracker``,
``stream.pipeline``, ``stream.sinks``, ``stream.model``); none needs PyTorch.
"""
