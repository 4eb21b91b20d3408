"""The generative reward model (GRM) service: a causal LM that writes a critique and a score.

It runs as its own process (`referee grm serve --model PATH`) so that it can sit on a GPU host;
the `grm` verifier calls it over HTTP. Modules:

- `settings`  limits and batching knobs (`REFEREE_GRM_*` environment variables, CLI flags)
- `prompting` the grading prompt built from prompt, response, reference and principles
- `parsing`   the score read from the critique text ("Score: 7/10")
- `model`     loading (HF directory or GGUF file), device/dtype choice, batched generation and
              the expected-value fallback over the score tokens' probabilities
- `scorer`    one batch of items -> critiques and scores (limits, generation, parsing, fallback)
- `batcher`   collects concurrent requests into one generation batch
- `schemas`, `routes`, `app`  the HTTP surface
"""
