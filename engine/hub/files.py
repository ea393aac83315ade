"""Which files of a Hub repo a model needs: a repo's file as the listing gives it (RepoFile),
and the choice of what to fetch (choose_files -> FilePlan)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.hub.errors import DownloadError
from engine.hub_names import is_sha256

# Files a model needs besides its weights (root of the repo only).
CONFIG_FILES = ("config.json", "generation_config.json")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
    "chat_template.jinja",
    "chat_template.json",
)


@dataclass(frozen=True)
class RepoFile:
    name: str  # path inside the repo, '/'-separated
    size: int
    blob: str  # file name under blobs/: the LFS sha256, else the git blob id
    lfs: bool = False

    @property
    def checksum(self) -> str:
        """How the fetched contents are checked against `blob`: "sha256" (an LFS file),
        "git" (the git blob id of a small file), or "" (an LFS file listed without its
        sha256: nothing to check against)."""
        if self.lfs:
            return "sha256" if is_sha256(self.blob) else ""
        return "git" if len(self.blob) == 40 else ""


@dataclass(frozen=True)
class FilePlan:
    """What to fetch from a repo and why some weights were not the preferred kind."""

    files: tuple[RepoFile, ...]
    notices: tuple[str, ...] = ()

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def choose_files(
    files: Iterable[RepoFile], repo: str = "", *, remote_code: bool = False
) -> FilePlan:
    """Pick what a model needs to run from a repo's file list.

    Config, generation config and tokenizer files; safetensors weights (with their
    index); pickle ``.bin`` weights only when there are no safetensors, with a notice.
    Never TF, Flax, ONNX, GGUF or other formats, and nothing from sub-folders (where
    repos keep ONNX exports, checkpoints and quantized variants). ``remote_code`` adds
    the repo's top-level ``*.py`` files, which a trust_remote_code model imports.
    """
    root = {f.name: f for f in files if "/" not in f.name}
    chosen = [root[n] for n in (*CONFIG_FILES, *TOKENIZER_FILES) if n in root]
    chosen += [f for n, f in sorted(root.items()) if n.endswith(".tiktoken")]
    if remote_code:
        chosen += [f for n, f in sorted(root.items()) if n.endswith(".py")]
    notices: list[str] = []
    weights = _weights(root, ".safetensors", "model")
    if not weights:
        weights = _weights(root, ".bin", "pytorch_model")
        if weights:
            notices.append(
                f"{repo or 'this repo'} has no safetensors weights: fetching pickle .bin "
                "weights instead (loading them unpickles data; only use repos you trust)"
            )
    if not weights:
        names = ", ".join(sorted(root)) or "no files"
        raise DownloadError(
            f"{repo or 'the repo'} has no weights transformers can load (safetensors or "
            f"PyTorch .bin) at its top level; it has: {names}"
        )
    if "config.json" not in root:
        raise DownloadError(f"{repo or 'the repo'} has no config.json: not a transformers model")
    return FilePlan(tuple(chosen + weights), tuple(notices))


def _weights(root: dict[str, RepoFile], suffix: str, default_stem: str) -> list[RepoFile]:
    """Weights of one format: the index and its shards, else the default single file,
    else every file of that format (renamed single files)."""
    indexes = sorted(n for n in root if n.endswith(f"{suffix}.index.json"))
    if indexes:
        index = indexes[0]
        stem = index[: -len(f"{suffix}.index.json")]
        shards = [f for n, f in sorted(root.items()) if n.endswith(suffix) and n.startswith(stem)]
        if shards:
            return [root[index], *shards]
    if default_stem + suffix in root:
        return [root[default_stem + suffix]]
    if suffix == ".bin":
        # training_args.bin and optimizer states are .bin too; only weights qualify.
        return [
            f
            for n, f in sorted(root.items())
            if n.startswith("pytorch_model") and n.endswith(suffix)
        ]
    return [f for n, f in sorted(root.items()) if n.endswith(suffix)]
