"""Hooks of the tests/ folder: reports kept on each test item (the browser tests save a screenshot on
failure), and the figures of the issue-9 proofs at the end of the session (state-machine examples and
steps, fuzzed requests per operation)."""

import sys

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item: a fixture's teardown can then see whether the test
    failed (the browser tests save a screenshot then)."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def pytest_terminal_summary(terminalreporter):
    model = sys.modules.get("tests.test_money_model")
    if model is not None and model.TOTALS["examples"]:
        terminalreporter.write_sep("-", "money model (tests/test_money_model.py)")
        terminalreporter.write_line(f"{model.TOTALS['examples']} examples, {model.TOTALS['steps']} steps")
        terminalreporter.write_line("steps by rule: " + ", ".join(
            f"{name} {count}" for name, count in sorted(model.STEPS_BY_RULE.items())))
        terminalreporter.write_line("outcomes: " + ", ".join(
            f"{name} {count}" for name, count in sorted(model.OUTCOMES.items())))
    fuzz = sys.modules.get("tests.test_fuzz_api")
    if fuzz is not None and fuzz.REQUESTS_PER_OPERATION:
        counts = fuzz.REQUESTS_PER_OPERATION
        terminalreporter.write_sep("-", "API fuzzing (tests/test_fuzz_api.py)")
        terminalreporter.write_line(f"{sum(counts.values())} requests over {len(counts)} operations "
                                    f"(as a user and as an admin), by data: "
                                    + ", ".join(f"{mode} {n}" for mode, n in sorted(fuzz.REQUESTS_PER_MODE.items()))
                                    + "; per operation:")
        for operation, count in sorted(counts.items(), key=lambda item: item[0].split(" ", 1)[::-1]):
            terminalreporter.write_line(f"  {count:6d}  {operation}")
