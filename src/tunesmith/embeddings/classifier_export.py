"""Export of a classifier that is an encoder + a linear head on its pooled embedding (the pooled and embedding
recipes): a sentence-transformers folder whose last module is the head, as a Dense layer with no activation.

`SentenceTransformer(folder).encode(texts)` then gives the classifier's logits, with no code of tunesmith's or
anyone's (the Dense module and the torch Identity activation are sentence-transformers' own), and
`tunesmith-classifier.json` names the labels in the order of the logits. The parity check reloads the folder
the way tunesmith reads sentence-transformers folders and compares predicted labels, as for any classifier.
"""

from __future__ import annotations

import json
from pathlib import Path

HEAD_MODULE = "3_Dense"
LABELS_FILE = "tunesmith-classifier.json"


def write_head(folder: Path, weight, bias, labels: list[str]) -> None:
    """Append the head to the folder's module list as a sentence-transformers Dense module."""
    from safetensors.torch import save_file

    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    modules.append({"idx": len(modules), "name": str(len(modules)), "path": HEAD_MODULE,
                    "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules, indent=2) + "\n", encoding="utf-8")
    (folder / HEAD_MODULE).mkdir(exist_ok=True)
    config = {"in_features": int(weight.shape[1]), "out_features": int(weight.shape[0]), "bias": True,
              "activation_function": "torch.nn.modules.linear.Identity"}
    (folder / HEAD_MODULE / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    save_file({"linear.weight": weight.detach().contiguous(), "linear.bias": bias.detach().contiguous()},
              str(folder / HEAD_MODULE / "model.safetensors"))
    (folder / LABELS_FILE).write_text(json.dumps({"labels": labels, "outputs": "logits"}, indent=2) + "\n",
                                      encoding="utf-8")


def read_classifier(folder: Path):
    """The exported folder as an `EmbeddingClassifier` (encoder, pooling and normalisation as the folder
    declares them, the Dense module's weights as the head) and its labels."""
    from safetensors.torch import load_file

    from tunesmith.embeddings.fewshot_run import EmbeddingClassifier
    from tunesmith.embeddings.load import base_encoder

    encoder = base_encoder(folder)
    head = load_file(str(folder / HEAD_MODULE / "model.safetensors"))
    labels = json.loads((folder / LABELS_FILE).read_text(encoding="utf-8"))["labels"]
    model = EmbeddingClassifier(encoder.model, encoder.pooling, encoder.normalize, head["linear.weight"],
                                head["linear.bias"])
    return model.eval(), labels


def export_head_classifier(run, folder: Path, texts: list[str], label_of) -> object:
    """Write the folder; return the reloaded classifier's answers on `texts` (`label_of(model, tokenizer,
    texts, labels)`, deploy/classifier.py's), for the parity check."""
    from tunesmith.deploy import parity
    from tunesmith.embeddings.encoder import SentenceEncoder
    from tunesmith.embeddings.export import write_sentence_transformers

    model = run.model
    encoder = model.encoder.merge_and_unload() if hasattr(model.encoder, "merge_and_unload") else model.encoder
    write_sentence_transformers(SentenceEncoder(encoder, run.tokenizer, model.pooling, model.normalize,
                                                run.config.model.max_length), folder)
    labels = list(run.labels or [])
    write_head(folder, model.head.weight, model.head.bias, labels)
    reloaded, _ = read_classifier(folder)
    return label_of(reloaded, parity.folder_tokenizer(folder), texts, labels)
