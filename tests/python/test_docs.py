"""The examples in README.md's "Python" section and in the module's
docstrings run, and print what they say they print (doctest)."""

import doctest
import os
import re

import neardup
import neardup._neardup
from conftest import SOURCE_DIR


def readme_python_examples():
    with open(os.path.join(SOURCE_DIR, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    section = readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) >= 3, "README's Python section has its examples"
    return "\n".join(blocks)


def run_doctest(text, name):
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {"neardup": neardup}, name, None, 0)
    assert test.examples, f"{name}: no examples"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, f"{name}: {failed} of {attempted} examples failed (output above)"


def test_readme_python_section():
    run_doctest(readme_python_examples(), "README.md#python")


def test_module_docstrings():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    # no globals given: each example imports what it uses, as `python -m doctest` runs it
    tests = finder.find(neardup)
    tests += finder.find(neardup._neardup, "neardup._neardup")
    examples = 0
    for test in tests:
        examples += len(test.examples)
        runner.run(test)
    failed, _ = runner.summarize(verbose=False)
    assert examples >= 5 and failed == 0


def test_everything_public_is_documented():
    for name in neardup.__all__:
        obj = getattr(neardup, name)
        if name != "__version__":
            assert obj.__doc__ and len(obj.__doc__) > 40, f"neardup.{name} has no docstring"
    for method in ("add", "query", "is_duplicate"):
        assert getattr(neardup.Deduplicator, method).__doc__
    assert neardup.__version__ == neardup._neardup.__version__
    stubs = os.path.join(os.path.dirname(neardup.__file__), "_neardup.pyi")
    assert os.path.exists(stubs) and os.path.exists(os.path.join(os.path.dirname(neardup.__file__), "py.typed"))
