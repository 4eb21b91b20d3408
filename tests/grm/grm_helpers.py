"""Helpers of the GRM tests: small real models built on the spot, and a real server in a thread.

`tiny_grader_dir` is a 2-layer Llama with a byte-level BPE tokenizer, both made here (no hub),
trained for a few seconds to grade the way a reward model does: a response containing "right"
gets "Correct.\\nScore: 9/10", one containing "wrong" gets "Wrong.\\nScore: 2/10". That gives
tests a real model whose output they can predict, so parsing, the expected-value fallback and
batching (each item must get its own score) are checked on behaviour, not on canned text.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing here may reach a model hub
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TQDM_DISABLE", "1")

import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from server.grm.prompting import GradingTask, render

# On this shared 2-core machine a second OpenMP thread spins against other jobs and makes the
# tiny models here several times slower; one thread per process is faster.
torch.set_num_threads(1)

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
WORDS = ("apple river stone cloud number seven tree blue quick house paper light music road green "
         "window table answer question ocean planet garden letter friend summer").split()
GOOD, BAD = "Correct.\nScore: 9/10", "Wrong.\nScore: 2/10"


def sample_task(rng: random.Random, good: bool) -> GradingTask:
    prompt = " ".join(rng.choices(WORDS, k=rng.randint(2, 9))) + "?"
    filler = " ".join(rng.choices(WORDS, k=rng.randint(0, 5)))
    response = f"{filler} {'right' if good else 'wrong'} {rng.choice(WORDS)}".strip()
    return GradingTask(prompt=prompt, response=response)


def _build_tokenizer(out: Path, corpus: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<|im_start|>", "<|im_end|>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<pad>")
    fast.chat_template = CHATML
    fast.save_pretrained(out)
    return fast


def tiny_llama(tokenizer, seed: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=None, tie_word_embeddings=True)
    return LlamaForCausalLM(config)


def build_tiny_grader(out: Path, *, train_steps: int = 300, seed: int = 0) -> Path:
    rng = random.Random(seed)
    tasks = [(sample_task(rng, good), good) for good in [True, False] * 150]
    corpus = [render(t, None) for t, _ in tasks[:20]] + [GOOD, BAD, CHATML] * 5
    tokenizer = _build_tokenizer(out, corpus)
    model = tiny_llama(tokenizer, seed)

    examples = []
    for task, good in tasks:
        prompt = tokenizer(render(task, tokenizer), add_special_tokens=False)["input_ids"]
        target = tokenizer((GOOD if good else BAD) + "<|im_end|>", add_special_tokens=False)["input_ids"]
        examples.append((prompt, target))
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(train_steps):
        batch = rng.sample(examples, 16)
        width = max(len(p) + len(t) for p, t in batch)
        ids = torch.full((len(batch), width), tokenizer.pad_token_id)
        labels = torch.full((len(batch), width), -100)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (p, t) in enumerate(batch):
            seq = p + t
            ids[row, :len(seq)] = torch.tensor(seq)
            labels[row, len(p):len(seq)] = torch.tensor(t)  # learn the grading, not the prompt
            mask[row, :len(seq)] = 1
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    model.save_pretrained(out)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_in_thread(app) -> Iterator[str]:
    """Run an ASGI app under a real uvicorn server on a loopback port; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
