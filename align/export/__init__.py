"""Export: merge a LoRA adapter into its base, convert to GGUF, quantize, verify with llama.cpp.

Modules: ``merge``, ``gguf``, ``quantize``, ``verify``, ``pipeline`` (``export_model``) and
``command`` (the ``align export`` Typer function). Nothing heavy is imported at package level.
"""
