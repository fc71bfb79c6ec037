"""The tools quickstart's example data: Larkspur Cycles' order and workshop assistant, with three tools.

Customers ask to look up or cancel an order (by its `LK-<5 digits>` number) or to book a workshop service for
their bike on a date; those turns are tool calls. Other questions (opening hours, warranty, returns...) are
answered in words, with the tools still offered, so the model must also learn when *not* to call. Some
conversations go on past the call: the tool's result comes back and the assistant answers from it. Everything
(tools, order numbers, policies) is invented, so a pretrained model cannot know it beforehand.

The rows are OpenAI fine-tuning JSONL: `tools` on every line, assistant `tool_calls` with JSON-string
arguments, `tool` messages answering them by `tool_call_id`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from tunesmith.quickstart.dataset import write_jsonl

SYSTEM = "You are the order and workshop assistant of Larkspur Cycles."
BIKES = ("Commuter 2", "Trail X", "Cargo One")
# Short schemas on purpose: the fallback format puts every tool's JSON in each prompt, so each token here is
# paid for on every training example.
ORDER = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
TOOLS = [
    {"type": "function", "function": {"name": "lookup_order", "description": "Status of an order.",
                                      "parameters": ORDER}},
    {"type": "function", "function": {"name": "cancel_order", "description": "Cancel an order.", "parameters": ORDER}},
    {"type": "function", "function": {"name": "book_service", "description": "Book a bike service.", "parameters": {
        "type": "object", "properties": {"bike": {"enum": list(BIKES)}, "date": {"type": "string"}},
        "required": ["bike", "date"]}}},
]

ASKS = {
    "lookup_order": ("Where is my order {order_id}?", "Has order {order_id} shipped yet?",
                     "Can you check the status of {order_id}?", "What's happening with my order {order_id}?",
                     "When will {order_id} arrive?", "Any news on order {order_id}?",
                     "I'm still waiting for {order_id}, where is it?", "Could you track order {order_id} for me?"),
    "cancel_order": ("Please cancel order {order_id}.", "I want to cancel {order_id}.",
                     "Cancel my order {order_id}, I changed my mind.", "Can you stop order {order_id}? I don't "
                     "need it anymore.", "I'd like to cancel my purchase {order_id}.",
                     "Please call off order {order_id}."),
    "book_service": ("Can I book a service for my {bike} on {date}?", "I'd like a workshop appointment for the "
                     "{bike} on {date}, please.", "Please schedule maintenance for my {bike} on {date}.",
                     "Book my {bike} in for a check-up on {date}.", "Could my {bike} get a service on {date}?",
                     "I need the workshop to look at my {bike}, {date} would suit me."),
}
RESULTS = {
    "lookup_order": (lambda a, rng: {"order_id": a["order_id"], "status": "shipped",
                                     "delivery": f"2027-0{rng.randint(1, 9)}-{rng.randint(10, 28)}"},
                     lambda a, r: f"Order {a['order_id']} has shipped and should arrive on {r['delivery']}."),
    "cancel_order": (lambda a, rng: {"order_id": a["order_id"], "cancelled": True},
                     lambda a, r: f"Order {a['order_id']} is cancelled. The refund follows within 5 business days."),
    "book_service": (lambda a, rng: {"confirmed": True, "time": f"{rng.randint(9, 16)}:30"},
                     lambda a, r: f"Booked: your {a['bike']} service on {a['date']} at {r['time']}."),
}
ANSWERS = (  # (questions, the answer): no tool helps, so the assistant answers in words
    (("When is your workshop open?", "What are the workshop opening hours?", "Is the workshop open on Mondays?"),
     "Our Utrecht workshop is open Tuesday to Saturday, 9:00 to 17:30."),
    (("How long is the warranty on a frame?", "What warranty do your bikes have?", "Is the frame guaranteed?"),
     "Every Larkspur frame has a 7-year warranty; batteries are covered for 3 years."),
    (("How long do I have to return a bike?", "What is your return window?", "Can I return an accessory?"),
     "You can return anything within 45 days of delivery, and the return label is free."),
    (("Do you ship to Belgium?", "Which countries do you deliver to?", "Can I get a bike sent to Germany?"),
     "We deliver to the Netherlands, Belgium and Germany, free of charge."),
    (("Hello!", "Hi, are you a real person?", "Thanks for your help!"),
     "Hi! I'm the Larkspur assistant: I can check, cancel or book things for you. What do you need?"),
)
OPENERS = ("", "Hi, ", "Quick question: ", "Hello, ")
SHARES = (0.55, 0.2)  # call-only conversations, call + result + answer; the rest are answered in words


def _arguments(tool: str, rng: random.Random) -> dict:
    if tool == "book_service":
        return {"bike": rng.choice(BIKES), "date": f"2027-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"}
    return {"order_id": f"LK-{rng.randint(10000, 99999)}"}


def _call_conversation(number: int, rng: random.Random, with_result: bool) -> list[dict]:
    tool = rng.choice(list(ASKS))
    arguments = _arguments(tool, rng)
    call_id = f"call_{number}"
    messages = [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": rng.choice(ASKS[tool]).format(**arguments)},
                {"role": "assistant", "content": None, "tool_calls": [{"id": call_id, "type": "function", "function": {
                    "name": tool, "arguments": json.dumps(arguments)}}]}]
    if with_result:
        make_result, make_answer = RESULTS[tool]
        result = make_result(arguments, rng)
        messages += [{"role": "tool", "tool_call_id": call_id, "content": json.dumps(result)},
                     {"role": "assistant", "content": make_answer(arguments, result)}]
    return messages


def tool_examples(count: int = 480, seed: int = 11) -> list[dict]:
    """`count` conversations, deterministic for a seed: SHARES of them call a tool (some with its result and the
    answer after it), the rest are questions answered in words."""
    rng = random.Random(seed)
    asked = [(opener, question, answer) for questions, answer in ANSWERS for question in questions
             for opener in OPENERS]
    rng.shuffle(asked)  # drawn without replacement: no two records are the same
    records = []
    for number in range(count):
        draw = rng.random()
        meta = {}
        if draw < SHARES[0] + SHARES[1] or not asked:
            messages = _call_conversation(number, rng, with_result=draw >= SHARES[0])
            meta["kind"] = messages[2]["tool_calls"][0]["function"]["name"]
        else:
            opener, question, answer = asked.pop()
            text = opener + question[0].lower() + question[1:] if opener else question
            messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text},
                        {"role": "assistant", "content": answer}]
            meta = {"kind": "answer", "group": question}  # one question's openers share a split
        records.append({"id": f"tools-{number}", "tools": TOOLS, "messages": messages, "metadata": meta})
    return records


def write_tools_dataset(path: Path, count: int = 480, seed: int = 11) -> Path:
    """Write the examples as OpenAI fine-tuning chat JSONL (one conversation with its tools a line)."""
    return write_jsonl(path, tool_examples(count, seed))
