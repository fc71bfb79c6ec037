"""What to do next, in plain words, driven by what the evaluation found (per-class results, the training
curves' overfitting verdict, the verdict against baselines)."""

from __future__ import annotations

WEAK_F1 = 0.6  # a class below this F1 (or clearly below the others) needs more examples


def _weak_classes(per_class: dict) -> list[tuple[str, float, int]]:
    scored = [(label, v.get("f1"), v.get("support", 0)) for label, v in per_class.items()
              if isinstance(v, dict) and isinstance(v.get("f1"), int | float)]
    if len(scored) < 2:
        return []
    best = max(f1 for _, f1, _ in scored)
    return sorted([s for s in scored if s[1] < WEAK_F1 or s[1] < best - 0.25], key=lambda s: s[1])


def next_steps(data: dict) -> list[str]:
    """Advice from the report data (report.json's content); empty when nothing stands out."""
    advice: list[str] = []
    runs = [c for c in data.get("contenders", []) if c.get("kind") == "run"]
    for contender in runs:
        weak = _weak_classes((contender.get("details") or {}).get("per_class") or {})
        if weak:
            listed = ", ".join(f"'{label}' (F1 {f1:.2f}, {support} test examples)" for label, f1, support in weak[:5])
            advice.append(f"{contender['name']}: add more training examples for the weak classes {listed}; "
                          "look at the most frequent mistakes below to see what they are confused with.")
    for name, entry in ((data.get("diagnostics") or {}).get("runs") or {}).items():
        verdict = entry.get("overfitting") or ""
        if verdict.startswith("Overfitting"):
            advice.append(f"{name}: train fewer epochs (training.epochs) or stop early "
                          "(training.early_stopping_patience): validation loss rose while training loss fell.")
        elif "still falling" in verdict:
            advice.append(f"{name}: validation loss was still falling at the end: more epochs (training.epochs) "
                          "may help.")
    truncated = (data.get("data") or {}).get("overlong")
    if truncated:
        advice.append(f"{truncated} training record(s) were longer than model.max_length and were cut or dropped: "
                      "raise model.max_length if the answers need the full text.")
    facts = data.get("data") or {}
    if facts.get("long_references"):
        advice.append(f"{facts['long_references']} of {facts['references']} reference answers are longer than "
                      f"evaluation.max_new_tokens ({facts['max_new_tokens']} tokens), so every model's answer to "
                      f"them was cut short and scored lower: raise evaluation.max_new_tokens to "
                      f"{facts['longest_reference']} (the longest reference) for a fair comparison.")
    verdict = data.get("verdict") or ""
    if runs and ("did not" in verdict or "not significant" in verdict):
        advice.append("The fine-tuned run did not clearly beat prompting: more (or more varied) training data "
                      "usually helps more than more epochs; check the worst examples for a pattern.")
    return advice
