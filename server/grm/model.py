"""The reward model itself: loading, device and dtype choice, batched generation, score-token probabilities.

Heavy imports (torch, transformers) happen inside functions so that importing the package and
answering `--help` stay fast.
"""

from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DTYPE_NAMES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16",
               "float16": "float16", "fp16": "float16", "half": "float16"}


class ModelLoadError(RuntimeError):
    """The model could not be loaded; the message says why and what to do."""


@dataclass(frozen=True)
class Placement:
    device: str  # "cpu", "cuda", "cuda:1"
    dtype: str  # "float32", "bfloat16", "float16"


def resolve_placement(device: str, dtype: str, *, cuda_available: bool, bf16_supported: bool = True) -> Placement:
    """`auto` means CUDA with bfloat16 when a GPU is present, CPU with float32 otherwise."""
    device = device.strip().lower()
    if device == "auto":
        device = "cuda" if cuda_available else "cpu"
    elif device.startswith("cuda") and not cuda_available:
        raise ModelLoadError(f"device {device!r} was asked for but no CUDA device is available; use --device cpu or auto")
    elif device != "cpu" and not device.startswith("cuda"):
        raise ModelLoadError(f"unknown device {device!r}: expected auto, cpu, cuda or cuda:N")
    dtype = dtype.strip().lower()
    if dtype == "auto":
        if device == "cpu":
            dtype = "float32"  # half precision on CPU is slow and, for generation, often unsupported
        else:
            dtype = "bfloat16" if bf16_supported else "float16"
    elif dtype in DTYPE_NAMES:
        dtype = DTYPE_NAMES[dtype]
    else:
        raise ModelLoadError(f"unknown dtype {dtype!r}: expected auto, float32, bfloat16 or float16")
    return Placement(device=device, dtype=dtype)


def detect_placement(device: str = "auto", dtype: str = "auto") -> Placement:
    import torch

    cuda = torch.cuda.is_available()
    return resolve_placement(device, dtype, cuda_available=cuda,
                             bf16_supported=bool(cuda and torch.cuda.is_bf16_supported()))


def load_gguf(path: Path) -> tuple[Any, Any]:
    """A GGUF file as a dense float32 transformers model and its tokenizer.

    transformers dequantises the GGUF blocks on load but marks the model as quantised, which
    blocks `save_pretrained`; copying the weights into a fresh model of the same config gives a
    plain model that saves and moves between devices like any other.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        loaded = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    except Exception as exc:
        raise ModelLoadError(f"could not load GGUF file {path}: {type(exc).__name__}: {exc}") from exc
    config = copy.deepcopy(loaded.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    state = loaded.state_dict()
    packed = [name for name, t in state.items() if not t.is_floating_point()]
    if packed:
        raise ModelLoadError(f"{path}: weights stayed packed after loading ({packed[0]} …); "
                             "uninstall the `kernels` package so transformers dequantises GGUF files")
    model.load_state_dict(state, strict=True)
    return model, tokenizer


def convert_gguf(gguf_path: str | Path, out_dir: str | Path) -> Path:
    """Write a GGUF model as a Hugging Face directory (safetensors + tokenizer) that loads fast."""
    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    model, tokenizer = load_gguf(gguf_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


class GRMModel:
    """A causal LM loaded for grading: left-padded batched greedy generation and score probabilities."""

    def __init__(self, model: Any, tokenizer: Any, placement: Placement, name: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.placement = placement
        self.name = name
        self.uses_chat_template = bool(getattr(tokenizer, "chat_template", None))
        self.stop_ids = self._stop_ids()
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else self.stop_ids[0])
        self._keeps_logits = "logits_to_keep" in inspect.signature(model.forward).parameters

    @classmethod
    def load(cls, path: str | Path, device: str = "auto", dtype: str = "auto", threads: int | None = None) -> GRMModel:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        path = Path(path).expanduser()
        placement = detect_placement(device, dtype)
        torch_dtype = getattr(torch, placement.dtype)
        if not path.exists():
            raise ModelLoadError(f"model path {path} does not exist (give a Hugging Face model directory or a .gguf file)")
        if path.is_file() and path.suffix == ".gguf":
            model, tokenizer = load_gguf(path)
            model = model.to(dtype=torch_dtype)
        elif path.is_dir():
            try:
                tokenizer = AutoTokenizer.from_pretrained(path)
                model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
            except Exception as exc:
                raise ModelLoadError(f"could not load model directory {path}: {type(exc).__name__}: {exc}") from exc
        else:
            raise ModelLoadError(f"model path {path} is neither a directory nor a .gguf file")
        model.to(placement.device)
        model.eval()
        log.info("loaded %s on %s as %s", path, placement.device, placement.dtype)
        return cls(model, tokenizer, placement, name=path.name)

    def _stop_ids(self) -> list[int]:
        ids: list[int] = []
        for source in (getattr(self.model.generation_config, "eos_token_id", None), self.tokenizer.eos_token_id):
            for i in source if isinstance(source, (list, tuple)) else [source]:
                if i is not None and int(i) not in ids:
                    ids.append(int(i))
        if not ids:
            raise ModelLoadError(f"{self.name}: the tokenizer has no end-of-sequence token to stop generation on")
        return ids

    # -- text <-> ids --------------------------------------------------------------------------

    def encode_prompt(self, text: str) -> list[int]:
        # A chat template writes its own BOS into the text; a plain prompt needs the tokenizer's.
        return self.tokenizer(text, add_special_tokens=not self.uses_chat_template)["input_ids"]

    def encode_fragment(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    # -- batched work ----------------------------------------------------------------------------

    def _left_padded(self, sequences: list[list[int]]) -> tuple["torch.Tensor", "torch.Tensor"]:
        import torch

        width = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, seq in enumerate(sequences):
            if seq:
                ids[row, width - len(seq):] = torch.tensor(seq, dtype=torch.long)
                mask[row, width - len(seq):] = 1
        return ids.to(self.placement.device), mask.to(self.placement.device)

    def generate(self, prompts: list[list[int]], max_new_tokens: int,
                 should_stop: Callable[[], bool] | None = None, temperature: float = 0.0) -> list[list[int]]:
        """Continuations of all prompts in one batch, each cut at its first stop token: greedy,
        or sampled at `temperature` when it is above 0. `should_stop()` is polled after every
        token; when true, generation ends where it is."""
        import torch
        from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

        class _Poll(StoppingCriteria):
            def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
                stop = bool(should_stop and should_stop())
                return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)

        ids, mask = self._left_padded(prompts)
        sampling = {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0} if temperature > 0 \
            else {"do_sample": False}
        config = GenerationConfig(max_new_tokens=max_new_tokens, pad_token_id=self.pad_id,
                                  eos_token_id=self.stop_ids, **sampling)
        with torch.inference_mode():
            out = self.model.generate(input_ids=ids, attention_mask=mask, generation_config=config,
                                      stopping_criteria=StoppingCriteriaList([_Poll()]))
        continuations = []
        for row in out[:, ids.shape[1]:].tolist():
            cut = next((i for i, t in enumerate(row) if t in self.stop_ids), len(row))
            continuations.append(row[:cut])
        return continuations

    def candidate_logprobs(self, items: list[tuple[list[int], list[list[int]]]], token_budget: int) -> list[list[float]]:
        """For each (context, candidates): log P(candidate | context) of every candidate.

        The contexts run once, in forward passes of at most about `token_budget` tokens; their
        KV cache is then repeated per candidate, so the candidates cost a few tokens each.
        """
        results: list[list[float]] = []
        chunk: list[tuple[list[int], list[list[int]]]] = []
        for item in items:
            width = max(len(c) for c, _ in chunk + [item])
            if chunk and width * (len(chunk) + 1) > token_budget:
                results.extend(self._candidate_logprobs_chunk(chunk))
                chunk = []
            chunk.append(item)
        if chunk:
            results.extend(self._candidate_logprobs_chunk(chunk))
        return results

    def _candidate_logprobs_chunk(self, items: list[tuple[list[int], list[list[int]]]]) -> list[list[float]]:
        import torch

        device = self.placement.device
        ids, mask = self._left_padded([context for context, _ in items])
        # Left padding shifts positions; count them from each sequence's first real token.
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        keep: dict[str, Any] = {"logits_to_keep": 1} if self._keeps_logits else {}
        with torch.inference_mode():
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **keep)
            first = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)  # predicts each candidate's 1st token

            rows = [b for b, (_, cands) in enumerate(items) for _ in cands]
            cands = [c for _, cs in items for c in cs]
            width = max(len(c) for c in cands)
            cand_ids = torch.full((len(cands), width), self.pad_id, dtype=torch.long)
            cand_mask = torch.zeros((len(cands), width), dtype=torch.long)
            for r, c in enumerate(cands):
                cand_ids[r, :len(c)] = torch.tensor(c, dtype=torch.long)
                cand_mask[r, :len(c)] = 1
            index = torch.tensor(rows, dtype=torch.long, device=device)
            cache = out.past_key_values
            cache.reorder_cache(index)  # one copy of each context's cache per candidate
            lengths = mask.sum(-1)[index]
            follow = self.model(
                input_ids=cand_ids.to(device),
                attention_mask=torch.cat([mask[index], cand_mask.to(device)], dim=-1),
                position_ids=lengths[:, None] + torch.arange(width, device=device)[None, :],
                past_key_values=cache, use_cache=True,
            )
            rest = torch.log_softmax(follow.logits.float(), dim=-1)  # position k predicts token k+1
        flat = []
        for r, c in enumerate(cands):
            total = first[rows[r], c[0]]
            if len(c) > 1:
                later = torch.tensor(c[1:], device=rest.device)
                total = total + rest[r, : len(c) - 1, :].gather(-1, later[:, None]).sum()
            flat.append(float(total))
        grouped, start = [], 0
        for _, cs in items:
            grouped.append(flat[start:start + len(cs)])
            start += len(cs)
        return grouped
