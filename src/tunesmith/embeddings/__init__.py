"""Embedding fine-tuning (objective.task: embedding): losses, the pooled encoder, export, data, mining.

An encoder learns to put a query next to the document that answers it. Training runs on the one loop
(train/loop.py) with the losses in `losses`; evaluation is `tunesmith.evaluate.retrieval`; serving is
`tunesmith.serve.embeddings` (`POST /v1/embeddings`).
"""
