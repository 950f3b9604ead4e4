"""Run folders: the one owner of what a training run writes into its folder and reads back.

A run folder (``paths.output_dir``, docs/design.md "run directories") is opened only here:

* :mod:`brainenc.runs.folder`: the name of every file in it; finding run folders; the resolved
  config, ``metrics.json`` and ``trainable.json``, written and read;
* :mod:`brainenc.runs.history`: the CSV logger's per-epoch history;
* :mod:`brainenc.runs.provenance`: ``provenance.json``;
* :mod:`brainenc.runs.stored_config`: the allow-list every node of a stored config passes before
  anything is built from it;
* :mod:`brainenc.runs.lock`: who may write into a folder;
* :mod:`brainenc.runs.checkpoints`: Lightning checkpoints, written whole, read without
  unpickling code and checked before a resume;
* :mod:`brainenc.runs.artifacts`: the LoRA adapter, the exported model, and a trained model
  rebuilt from its run folder;
* :mod:`brainenc.runs.naming`: sweep job folder names.

Layer: above :mod:`brainenc.data` and :mod:`brainenc.models`, below evaluation and training.
Import the submodules by name: reading records needs no torch.
"""
