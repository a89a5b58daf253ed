"""Generation backends for evaluation: transformers (base + adapter, or a merged folder) and
GGUF through llama.cpp. Both decode greedily from the same chat-templated prompts, so the
artifact that ships to the field is judged the same way as the checkpoint it came from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path


class BackendError(ValueError):
    """A model that cannot be loaded for generation; the message names the option."""


@dataclass
class GenerationStats:
    responses: int = 0
    new_tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0


@dataclass
class TransformersGenerator:
    """Batched greedy decoding with transformers (+ PEFT adapter)."""

    base_model: str
    adapter: str | None = None
    dtype: str = "auto"
    batch_size: int = 8
    max_new_tokens: int = 512
    stats: GenerationStats = field(default_factory=GenerationStats)

    def __post_init__(self):
        from align.train.loading import LoadError, load_adapter, load_base

        try:
            model, self.tokenizer = load_base(self.base_model, dtype=self.dtype)
            if self.adapter:
                model = load_adapter(model, self.adapter, trainable=False)
        except LoadError as error:
            raise BackendError(str(error)) from error
        self.model = model.eval()
        # Decoder-only batches pad on the left so every row's next token follows its prompt.
        self.tokenizer.padding_side = "left"

    @property
    def settings(self) -> dict:
        return {
            "backend": "transformers",
            "do_sample": False,
            "max_new_tokens": self.max_new_tokens,
            "batch_size": self.batch_size,
            "dtype": str(self.model.dtype).removeprefix("torch."),
            "stop": [self.tokenizer.eos_token],
        }

    def prompt_ids(self, prompt: list[dict]) -> list[int]:
        from align.export.common import chat_ids

        return chat_ids(self.tokenizer, prompt)

    def generate(self, prompts: list[list[dict]]) -> list[str]:
        """One greedy response per prompt, in order; batches sorted by length (less padding)."""
        import torch

        encoded = [self.prompt_ids(prompt) for prompt in prompts]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        responses: list[str] = [""] * len(encoded)
        started = time.perf_counter()
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = self.tokenizer.pad(
                {"input_ids": [encoded[i] for i in rows]}, return_tensors="pt"
            ).to(self.model.device)
            with torch.inference_mode():
                output = self.model.generate(
                    **batch,
                    do_sample=False,
                    max_new_tokens=self.max_new_tokens,
                    eos_token_id=self.tokenizer.eos_token_id,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
            for row, sequence in zip(rows, output[:, batch["input_ids"].shape[1] :], strict=True):
                tokens = sequence.tolist()
                if self.tokenizer.eos_token_id in tokens:
                    tokens = tokens[: tokens.index(self.tokenizer.eos_token_id) + 1]
                self.stats.new_tokens += len(tokens)
                responses[row] = self.tokenizer.decode(tokens, skip_special_tokens=True).strip()
        self.stats.responses += len(prompts)
        self.stats.seconds += time.perf_counter() - started
        return responses


@dataclass
class LlamaCppGenerator:
    """Greedy decoding of a GGUF file with llama.cpp, prompts rendered by the chat template
    stored in the GGUF itself (what a field device running llama.cpp would use)."""

    gguf: str
    max_new_tokens: int = 512
    n_ctx: int = 2048
    threads: int | None = None
    stats: GenerationStats = field(default_factory=GenerationStats)

    def __post_init__(self):
        path = Path(self.gguf)
        if not path.is_file():
            raise BackendError(f"--gguf {self.gguf}: no such file")
        try:
            from llama_cpp import Llama
        except ImportError as error:
            raise BackendError(
                "--gguf needs llama-cpp-python: install the GGUF extra (compiles llama.cpp, "
                "~6 min): CMAKE_ARGS=-DGGML_NATIVE=OFF pip install -c constraints.txt "
                "-e '.[gguf]'"
            ) from error
        try:
            self.llm = Llama(
                model_path=str(path),
                n_ctx=self.n_ctx,
                n_threads=self.threads,
                verbose=False,
                logits_all=False,
            )
        except (ValueError, RuntimeError) as error:
            raise BackendError(f"--gguf {self.gguf}: llama.cpp cannot load it ({error})") from error
        if not self.llm.metadata.get("tokenizer.chat_template"):
            raise BackendError(f"--gguf {self.gguf}: no tokenizer.chat_template in the file")

    @property
    def settings(self) -> dict:
        from align.export.verify import token_text

        return {
            "backend": "llama.cpp",
            "do_sample": False,
            "top_k": 1,
            "repeat_penalty": 1.0,
            "max_new_tokens": self.max_new_tokens,
            "batch_size": 1,
            "n_ctx": self.n_ctx,
            "stop": [token_text(self.llm, self.llm.token_eos())],
        }

    def close(self) -> None:
        """Free the model now: left to interpreter exit, llama-cpp-python's finalizer runs
        after its library is unloaded and prints a traceback."""
        self.llm.close()

    def prompt_ids(self, prompt: list[dict]) -> list[int]:
        from align.export.verify import gguf_chat_prompt

        return gguf_chat_prompt(self.llm, prompt)[1]

    def generate(self, prompts: list[list[dict]]) -> list[str]:
        eos = self.llm.token_eos()
        responses = []
        started = time.perf_counter()
        for prompt in prompts:
            self.llm.reset()
            tokens = []
            for token in self.llm.generate(
                self.prompt_ids(prompt), top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0
            ):
                tokens.append(token)
                if token == eos or len(tokens) >= self.max_new_tokens:
                    break
            self.stats.new_tokens += len(tokens)
            text = self.llm.detokenize([t for t in tokens if t != eos]).decode("utf-8", "replace")
            responses.append(text.strip())
        self.stats.responses += len(prompts)
        self.stats.seconds += time.perf_counter() - started
        return responses
