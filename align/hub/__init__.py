"""Publishing to the Hugging Face Hub (`align publish`).

- ``artifacts``: the inputs read and checked (run, export, eval report, pairs) and the safety
  rails' verdict (the gate recomputed from the eval report);
- ``card``: the model card and the dataset card;
- ``plan``: the options, the repo layout, the dry-run text;
- ``upload``: the token, the commits, retries;
- ``command``: the Typer command and the demo's dry run.

Nothing here imports huggingface_hub, datasets or torch at module level: the CLI imports
``command`` at start.
"""
