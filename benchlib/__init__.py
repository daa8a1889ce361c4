"""benchlib: EvalPlus benchmarks (HumanEval+, MBPP+) for local models served by llama.cpp."""

__version__ = "0.1.0"
__all__ = ["__version__"]
