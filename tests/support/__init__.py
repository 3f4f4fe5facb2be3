"""What the tests share, imported as `from support import ...`: pytest puts tests/ on the import
path (the folder of the rootdir conftest.py), and the child scripts in tests/ have it as their own
folder. conftest.py holds only fixtures.

- checks: the runtimes, CI-aware skipping, reading a .tflite's ops, and the one rule a
  converted model's output must meet against the QAT model's (assert_matches_keras);
- harness: running a model through a runtime with the delegate;
- reference, cases, tflite_builder: the NumPy reference of cc/FORMAT.md, random one-op cases
  and the builder of one-op .tflite files (also used by bench/kernels and bench/arm);
- models, networks: the converter tests' random-weight models and trained deep networks.
"""
