"""lm-eval's model interface over llama.cpp, on the model as the worker loaded it.

Evaluation then measures the GGUF file as it runs in chat (Q4_1 on llama.cpp), not a
dequantized copy on transformers. Requests are answered one at a time on the chat's own
context, with the same tokenisation, truncation and scoring rules as lm-eval's HFLM
(its TemplateLM does the context/continuation split; the rest mirrors HFLM's code), so the
two runtimes give the same figures up to the quantization's own effect.

Memory: no second context and no ``logits_all``. A decode asks llama.cpp for the logits of
the positions that are scored, at most ``OUT_ROWS`` of them per decode, so the output
buffer stays at OUT_ROWS × vocabulary × 4 bytes (6 MB for SmolLM2's 49,152 tokens) however
long a request is; the KV cache is the one allocated at load. A request that starts like the
previous one keeps that part of the KV cache (the choices of a multiple-choice question
share their context: it is evaluated once per question).

Why not lm-eval's own ``gguf`` model: it talks to a llama.cpp *server* over HTTP (a second
process holding a second copy of the model, outside the worker's cancel, memory and
out-of-memory handling), it has no loglikelihood_rolling, it splits context from
continuation by character offsets instead of tokens, it judges "greedy" from the top-10
log-probabilities the server returns, and it strips generated text (HFLM does not).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from lm_eval.api.model import TemplateLM

OUT_ROWS = 32  # logits rows asked of llama.cpp per decode (the output buffer's size)
DEFAULT_MAX_GEN_TOKS = 256  # HFLM's default


class LlamaCppLM(TemplateLM):
    """An lm-eval model over a loaded llama_cpp.Llama (``loaded``: a LoadedModel)."""

    backend = "causal"

    def __init__(self, loaded: Any):
        super().__init__()
        import llama_cpp

        self._lib = llama_cpp
        self.llama = loaded.model
        self.tokenizer = loaded.tokenizer  # engine.runtimes.llamacpp.tokenizer.GGUFTokenizer
        self._vocab = self.llama._model.vocab
        self._n_vocab = self.llama.n_vocab()

    # ---- what lm-eval asks of a model --------------------------------------------------

    @property
    def eot_token_id(self) -> int:
        return self.tokenizer.eos_token_id

    @property
    def prefix_token_id(self) -> int:
        bos = self.tokenizer.bos_token_id
        return bos if bos is not None else self.tokenizer.eos_token_id

    @property
    def max_length(self) -> int:
        return self.llama.n_ctx()

    @property
    def max_gen_toks(self) -> int:
        return DEFAULT_MAX_GEN_TOKS

    def tok_encode(
        self,
        string: str,
        add_special_tokens: bool | None = None,
        left_truncate_len: int | None = None,
        **kwargs: Any,
    ) -> list[int]:
        """As HFLM: the tokenizer's own special tokens unless told otherwise, none when the
        text already starts with the prefix token."""
        add = True if add_special_tokens is None else add_special_tokens
        if add_special_tokens is None and self.prefix_token_id is not None:
            prefix = self.tok_decode([self.prefix_token_id], skip_special_tokens=False)
            if prefix and string.startswith(prefix):
                add = False
        ids = list(self.llama.tokenize(string.encode("utf-8"), add_bos=add, special=True))
        return ids[-left_truncate_len:] if left_truncate_len else ids

    def tok_decode(self, tokens: Sequence[int], skip_special_tokens: bool = True) -> str:
        return self.tokenizer.decode(list(tokens), skip_special_tokens=skip_special_tokens)

    def _loglikelihood_tokens(
        self, requests: list, disable_tqdm: bool = False, **kwargs: Any
    ) -> list[tuple[float, bool]]:
        """(log-probability of the continuation, whether greedy decoding gives it) per
        (key, context tokens, continuation tokens), left-truncated to the context as HFLM."""
        answers: list[tuple[float, bool]] = [(0.0, False)] * len(requests)
        # Sorted by tokens, so that requests sharing a context follow each other and reuse
        # its KV cache; answered in the caller's order.
        order = sorted(range(len(requests)), key=lambda i: requests[i][1] + requests[i][2])
        for i in order:
            key, context, continuation = requests[i]
            if not context or not continuation:
                raise ValueError("a loglikelihood request needs a context and a continuation")
            whole = (list(context) + list(continuation))[-(self.max_length + 1) :]
            tokens = whole[:-1]
            answer = self._score(
                tokens, first=len(tokens) - len(continuation), targets=list(continuation)
            )
            answers[i] = answer
            if key is not None:
                self.cache_hook.add_partial("loglikelihood", key, answer)
        return answers

    def loglikelihood_rolling(self, requests: list, disable_tqdm: bool = False) -> list[float]:
        """As HFLM: disjoint windows of the model's length, each scored whole."""
        from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

        out = []
        for request in requests:
            (string,) = request.args
            windows = [
                make_disjoint_window(w)
                for w in get_rolling_token_windows(
                    token_list=self.tok_encode(string),
                    prefix_token=self.prefix_token_id,
                    max_seq_len=self.max_length,
                    context_len=1,
                )
            ]
            total = sum(
                score
                for score, _ in self._loglikelihood_tokens(
                    [(None, ctx, cont) for ctx, cont in windows]
                )
            )
            out.append(total)
            self.cache_hook.add_partial("loglikelihood_rolling", (string,), total)
        return out

    def generate_until(self, requests: list, disable_tqdm: bool = False) -> list[str]:
        out = []
        for request in requests:
            context, gen_kwargs = request.args
            text = self._generate(context, dict(gen_kwargs or {}))
            out.append(text)
            self.cache_hook.add_partial("generate_until", (context, gen_kwargs), text)
        return out

    # ---- generation --------------------------------------------------------------------

    def _generate(self, context: str, kwargs: dict[str, Any]) -> str:
        """One generate_until request as HFLM answers it: the context left-truncated to
        leave room for max_gen_toks, decoding until a stop string or an end-of-generation
        token, the text cut at the first stop string."""
        until = kwargs.get("until")
        until = [until] if isinstance(until, str) else list(until or [])
        eos = self.tok_decode([self.eot_token_id], skip_special_tokens=False)
        if eos and eos not in until:
            until.append(eos)
        max_gen = _max_gen_toks(kwargs, self.max_gen_toks)
        room = self.max_length - max_gen
        if room <= 0:
            raise ValueError(
                f"max_gen_toks {max_gen} leaves no room for the context in {self.max_length} tokens"
            )
        prompt = self.tok_encode(context)[-room:]
        sample = _Sampler(kwargs)
        made: list[int] = []
        logits = self._last_logits(prompt)
        while len(made) < max_gen:
            token = sample(logits)
            if self._lib.llama_vocab_is_eog(self._vocab, token):
                break
            made.append(token)
            text = self.tok_decode(made)
            if any(stop and stop in text for stop in until):
                break
            if len(made) < max_gen:
                logits = self._last_logits(prompt + made)
        text = self.tok_decode(made)
        for stop in until:
            if stop:
                text = text.split(stop)[0]
        return text

    # ---- the context -------------------------------------------------------------------

    def _last_logits(self, tokens: list[int]) -> np.ndarray:
        rows: list[np.ndarray] = []
        self._decode(tokens, len(tokens) - 1, rows.append)
        return rows[-1]

    def _score(self, tokens: list[int], first: int, targets: list[int]) -> tuple[float, bool]:
        """Sum of log-probabilities of ``targets`` predicted at positions first.. of
        ``tokens``, and whether each is the most likely token there. Computed per decode,
        so no more than OUT_ROWS rows of logits exist at once."""
        total = 0.0
        greedy = True
        seen = 0

        def take(rows: np.ndarray) -> None:
            nonlocal total, greedy, seen
            want = np.asarray(targets[seen : seen + len(rows)])
            shifted = rows - rows.max(axis=1, keepdims=True)
            logprobs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            total += float(logprobs[np.arange(len(rows)), want].sum())
            greedy = greedy and bool((rows.argmax(axis=1) == want).all())
            seen += len(rows)

        self._decode(tokens, first, take, block=True)
        return total, greedy

    def _decode(self, tokens: list[int], first: int, sink: Any, block: bool = False) -> None:
        """Evaluate ``tokens`` on the context, giving ``sink`` the logits of every position
        from ``first`` on (one row each, or per decode as one array with ``block``). The
        part shared with what the context holds is kept; at least ``first`` on is new."""
        llama = self.llama
        cached = llama.input_ids[: llama.n_tokens].tolist()
        keep = 0
        for old, new in zip(cached, tokens[:first], strict=False):
            if old != new:
                break
            keep += 1
        if not llama._ctx.kv_cache_seq_rm(-1, keep, -1):
            keep = 0
            llama._ctx.kv_cache_clear()
        llama.n_tokens = keep
        batch = llama._batch.batch
        pos = keep
        while pos < len(tokens):
            end = min(len(tokens), pos + llama.n_batch, max(first, pos) + OUT_ROWS)
            batch.n_tokens = end - pos
            for j, p in enumerate(range(pos, end)):
                batch.token[j] = tokens[p]
                batch.pos[j] = p
                batch.seq_id[j][0] = 0
                batch.n_seq_id[j] = 1
                batch.logits[j] = p >= first
            self._run(batch)
            llama.input_ids[pos:end] = tokens[pos:end]
            llama.n_tokens = end
            outputs = [j for j, p in enumerate(range(pos, end)) if p >= first]
            if outputs:
                rows = np.stack(
                    [
                        np.ctypeslib.as_array(llama._ctx.get_logits_ith(j), shape=(self._n_vocab,))
                        for j in outputs
                    ]
                ).astype(np.float32, copy=True)
                if block:
                    sink(rows)
                else:
                    for row in rows:
                        sink(row)
            pos = end

    def _run(self, batch: Any) -> None:
        code = self._lib.llama_decode(self.llama._ctx.ctx, batch)
        if code == 0:
            return
        # What the context holds is unknown after a failed decode: start clean next time.
        self.llama._ctx.kv_cache_clear()
        self.llama.n_tokens = 0
        if code == -2:  # GGML_STATUS_ALLOC_FAILED
            raise MemoryError("llama.cpp ran out of memory while evaluating")
        raise RuntimeError(
            f"llama.cpp could not evaluate the request (llama_decode returned {code})"
        )


def _max_gen_toks(kwargs: dict[str, Any], default: int) -> int:
    for name in ("max_gen_toks", "max_new_tokens", "max_tokens"):
        value = kwargs.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer (got {value!r})")
            return value
    return default


class _Sampler:
    """Greedy unless the task asks for sampling (do_sample, or a temperature without it);
    sampling draws from numpy's generator, which lm-eval seeds before each task."""

    def __init__(self, kwargs: dict[str, Any]):
        temperature = float(kwargs.get("temperature") or 0.0)
        do_sample = kwargs.get("do_sample")
        self.sample = bool(do_sample) if do_sample is not None else temperature > 0
        self.temperature = temperature if temperature > 0 else 1.0
        self.top_k = int(kwargs.get("top_k") or 0)
        self.top_p = float(kwargs.get("top_p") or 1.0)

    def __call__(self, logits: np.ndarray) -> int:
        if not self.sample:
            return int(logits.argmax())
        scaled = logits.astype(np.float64) / self.temperature
        if 0 < self.top_k < len(scaled):
            cut = np.partition(scaled, -self.top_k)[-self.top_k]
            scaled = np.where(scaled < cut, -np.inf, scaled)
        probs = np.exp(scaled - scaled.max())
        probs /= probs.sum()
        if self.top_p < 1.0:
            ranked = np.argsort(-probs)
            cumulative = np.cumsum(probs[ranked])
            drop = ranked[cumulative - probs[ranked] >= self.top_p]
            probs[drop] = 0.0
            probs /= probs.sum()
        return int(np.random.choice(len(probs), p=probs))
