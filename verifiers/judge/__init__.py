"""LLM judges: the `judge` verifier and the pieces it is made of.

    config.py   named judge configurations (file / environment), API keys by variable name
    client.py   OpenAI-compatible chat client: concurrency, rate limit, retries, circuit breaker, cache
    backpressure.py  token bucket and circuit breaker
    params.py   request-side options and the reference shape
    prompts.py  what is said to the judge, and the JSON schema of its reply
    parsing.py  reading verdicts out of replies, JSON or free text
    modes.py    rubric / principles / reference / pairwise, and k-sample voting
    verifier.py the `judge` verifier
"""

from verifiers.judge.config import JudgeConfig, JudgeConfigError, load_judge_configs
from verifiers.judge.verifier import JudgeVerifier

__all__ = ["JudgeConfig", "JudgeConfigError", "JudgeVerifier", "load_judge_configs"]
