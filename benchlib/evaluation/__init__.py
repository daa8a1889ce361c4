"""Stage 2, evaluation: the samples run in a sandbox, judged as evalplus judges them.

    scoring.py   the stage: plan (what to check), resume (journal), run (checks), finish (eval_results.json)
    checks.py    one check: a sample on one phase's inputs, judged input by input
    verdicts.py  a check's outcome as data (kind, exception, failing input), and the sentence rendered from it
    truth.py     the canonical outputs and CPU times (one memory-mapped file per dataset)
    oracle.py    judging one output as evalplus 0.3.1 does (and the HumanEval/32 fix)
    sandbox.py   where untrusted code runs (local bubblewrap, docker, unsafe): the fork-server client

The untrusted side of the boundary is benchlib/inside/.
"""
