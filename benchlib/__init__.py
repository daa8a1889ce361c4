"""benchlib: EvalPlus benchmarks (HumanEval+, MBPP+) for local models served by llama.cpp."""

__version__ = "0.2.0"  # the one version string (pyproject.toml reads it)
__all__ = ["__version__"]
