"""A real TRL `GRPOTrainer` trains 2 steps on CPU with `referee_client.trl.reward_func` as its
reward, against a real `referee serve`; TRL's logged rewards are Referee's."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pytest

from referee_client.trl import reward_func

PROMPTS = {  # prompt -> reference (a regex searched in the completion); "(" is a bad pattern: masked
    "Say a vowel:": "[aeiou]",
    "Say a digit:": "[0-9]",
    "Say a letter:": "[a-m]",
    "Say nothing:": "(",
}


def tiny_model_dir(tmp_path: Path) -> Path:
    """A 2-layer Llama and a byte-level BPE tokenizer trained here on a few lines: no hub."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    corpus = [*PROMPTS, "a e i o u 0 1 2 3 4 5 6 7 8 9", "the quick brown fox jumps over the lazy dog"] * 20
    tokenizer.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<pad>", "<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", bos_token="<s>", eos_token="</s>")
    config = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                         pad_token_id=fast.pad_token_id, bos_token_id=fast.bos_token_id,
                         eos_token_id=fast.eos_token_id)
    out = tmp_path / "tiny-llama"
    LlamaForCausalLM(config).save_pretrained(out)
    fast.save_pretrained(out)
    return out


@pytest.mark.timeout(600)
def test_grpo_trainer_two_steps_with_referee_rewards(server, tmp_path):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    model_dir = tiny_model_dir(tmp_path)
    reward = reward_func("regex", reference_column="answer", params={"mode": "search"}, url=server)
    assert reward.__name__ == "referee_regex"
    dataset = Dataset.from_dict({"prompt": list(PROMPTS), "answer": list(PROMPTS.values())})
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"), use_cpu=True, bf16=False, report_to="none", save_strategy="no",
        max_steps=2, logging_steps=1, learning_rate=1e-3, per_device_train_batch_size=8, num_generations=4,
        max_completion_length=8, temperature=1.0, beta=0.0, seed=0, dataloader_num_workers=0,
    )
    trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir), reward_funcs=[reward], args=args,
                          train_dataset=dataset, processing_class=AutoTokenizer.from_pretrained(model_dir))
    trainer.train()

    assert trainer.state.global_step == 2
    logged = [entry for entry in trainer.state.log_history if "rewards/referee_regex/mean" in entry]
    assert len(logged) == 2
    # The last generation batch as TRL logged it: each completion with the reward TRL recorded.
    prompts, completions = list(trainer._logs["prompt"]), list(trainer._logs["completion"])
    trl_rewards = list(trainer._logs["rewards"]["referee_regex"])
    assert len(completions) == len(trl_rewards) == 8
    items = [{"verifier": "regex", "completion": c, "reference": PROMPTS[p], "params": {"mode": "search"}}
             for p, c in zip(prompts, completions)]
    verdicts = httpx.post(f"{server}/v1/verify", json={"items": items}, timeout=60).json()["verdicts"]
    for verdict, trl_reward in zip(verdicts, trl_rewards):
        if verdict["status"] in ("timeout", "error", "invalid_input"):
            assert math.isnan(trl_reward)  # None from the reward function: masked, not a 0
        else:
            assert trl_reward == verdict["reward"]
    scorable = [v["reward"] for v in verdicts if v["status"] not in ("timeout", "error", "invalid_input")]
    assert scorable  # 8 completions of 2 prompts: at most one prompt is the masked one
    assert logged[-1]["rewards/referee_regex/mean"] == pytest.approx(sum(scorable) / len(scorable))
