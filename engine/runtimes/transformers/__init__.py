"""The transformers runtime (torch): every catalog model, at fp32, fp16, bf16, or 8- and
4-bit through bitsandbytes. Nothing here imports torch at module level."""

NAME = "transformers"
