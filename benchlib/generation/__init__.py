"""Stage 1, generation: one request per answer to an OpenAI-compatible server, as evalplus asks.

    prompt.py    evalplus's request (system message, instruction, greedy), the leaderboard's 768 tokens
    client.py    the chat client and its retry policy
    codegen.py   the stage: token-cap probe, requests in flight, journal, resume, reuse after a cap change
"""
