"""Keeps the vendored DSPy tests out of a pytest run of the promptkit project (`pytest benchmarks`, `pytest .`).

They run only through run.py, with their own venv, rootdir and pytest.ini (dspy_tests/pytest.ini).
"""

collect_ignore = ["dspy_tests", "run.py", "compat_plugin.py"]
