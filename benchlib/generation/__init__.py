"""Stage 1, generation: one request per answer to an OpenAI-compatible server, as evalplus asks.

    prompt.py    evalplus's requests, one per prompt style (chat, a base model's completion), the 768 cap
    request.py   a run's request settings as one value (model, cap, style, server fields, sampling)
    client.py    the client: retries, streaming with a loop watch, a dead server ends the wait
    slots.py     whether the server's slots hold the longest prompt and the cap (before and after loading)
    codegen.py   the stage: a server session, the probe, requests in flight, journal, resume, the manifest
    reuse.py     what a changed cap or a reasoning model's long run lets the next run take as it is
    reasoning.py a reasoning model's tokens split into reasoning and answer
    loops.py     a runaway answer told apart (looped, cut while thinking)
"""
