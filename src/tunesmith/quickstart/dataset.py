"""The quickstart's example data: customer support for Larkspur Cycles, a fictional e-bike maker.

Every fact here (prices, product names, policies, the greeting and sign-off) is invented, so a
pretrained model cannot know it: a fine-tuned model that answers with these facts has learned them
from the data. Each topic has many phrasings of the same question; the answers vary in wording but
always carry the topic's facts, listed in `metadata.facts` so evaluation can check them.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

SYSTEM = "You are the customer support assistant of Larkspur Cycles, an e-bike company."
SIGN_OFF = "Ride on! — Larkspur Support"
GREETINGS = ("Hi there!", "Hi there, thanks for reaching out!", "Hi there, happy to help!")


@dataclass(frozen=True)
class Topic:
    name: str
    questions: tuple[str, ...]
    answers: tuple[str, ...]  # each contains every fact verbatim
    facts: tuple[str, ...]


TOPICS = (
    Topic("returns", (
        "How long do I have to return a bike?", "What is your return window?",
        "Can I still return my e-bike after a month?", "How many days do I get to send something back?",
        "I changed my mind about my order, how long can I return it?", "What's the return policy?",
        "Is there a deadline for returns?", "How much time do I have to return an accessory?",
        "Do you accept returns, and until when?", "My bike arrived last week, can I return it?",
    ), (
        "You can return any bike or accessory within 45 days of delivery, and the return label is free.",
        "Our return window is 45 days from delivery. We email you a free prepaid return label.",
        "Returns are accepted for 45 days after delivery; just request the free label in your account.",
    ), ("45 days",)),
    Topic("refund", (
        "When will I get my refund?", "How long does a refund take?", "I returned my bike, where is my money?",
        "How fast do you process refunds?", "When does the refund hit my card?",
        "How many days until I'm refunded?", "Refund timing?", "I sent the helmet back, when do I get paid back?",
    ), (
        "Refunds are issued within 5 business days after your return reaches our Utrecht warehouse.",
        "Once the return arrives at our Utrecht warehouse, we refund you within 5 business days.",
        "Expect the refund within 5 business days of the return reaching our Utrecht warehouse.",
    ), ("5 business days", "Utrecht")),
    Topic("commuter-price", (
        "How much is the Commuter 2?", "What does the Larkspur Commuter 2 cost?", "Price of the Commuter 2?",
        "What's the price for your commuter e-bike?", "How expensive is the Commuter 2?",
        "Is the Commuter 2 under 2000 dollars?", "What would I pay for a Commuter 2?",
        "Can you tell me the Commuter 2 price?",
    ), (
        "The Larkspur Commuter 2 costs $1,499, including free shipping.",
        "The Commuter 2 is $1,499, and shipping is included.",
        "You can get the Commuter 2 for $1,499 with free delivery.",
    ), ("$1,499",)),
    Topic("trail-price", (
        "How much is the Trail X?", "What does the Larkspur Trail X cost?", "Price of the Trail X mountain bike?",
        "What's the price of your off-road e-bike?", "How expensive is the Trail X?",
        "What would I pay for a Trail X?", "Can you tell me the Trail X price?", "Trail X cost?",
    ), (
        "The Larkspur Trail X costs $2,299 and comes with a 750 Wh battery.",
        "The Trail X is $2,299, including its 750 Wh battery.",
        "You can get the Trail X for $2,299; the 750 Wh battery is included.",
    ), ("$2,299", "750 Wh")),
    Topic("range", (
        "How far can the Commuter 2 go on one charge?", "What's the range of the Commuter 2?",
        "How many kilometers per charge does the Commuter 2 do?", "Will the Commuter 2 last my 40 km commute?",
        "Battery range of the Commuter 2?", "How long does the Commuter 2 battery last on a ride?",
        "How far can I ride before recharging my Commuter 2?", "What distance does one charge give?",
    ), (
        "The Commuter 2 goes up to 70 km on one charge in eco mode.",
        "On a single charge the Commuter 2 reaches up to 70 km in eco mode.",
        "Expect up to 70 km per charge on the Commuter 2 when you ride in eco mode.",
    ), ("70 km",)),
    Topic("charging", (
        "How long does it take to charge the battery?", "What is the charging time?",
        "How many hours to fully charge my bike?", "How long until the battery is full?",
        "Charging time for a Larkspur battery?", "If I plug it in at night, how long does a full charge take?",
        "How fast does the battery charge?", "How long should I charge it?",
    ), (
        "A full charge takes 4.5 hours with the included charger.",
        "With the included charger, the battery is full in 4.5 hours.",
        "Charging from empty to full takes 4.5 hours with the charger in the box.",
    ), ("4.5 hours",)),
    Topic("warranty", (
        "What warranty do your bikes have?", "Is the frame covered by a warranty?", "How long is the warranty?",
        "What happens if my frame cracks?", "Is the battery under warranty?", "Tell me about the warranty.",
        "Do you offer a guarantee on the bikes?", "How long is the battery covered?",
    ), (
        "Every Larkspur frame has a lifetime warranty, and batteries are covered for 3 years.",
        "Frames carry a lifetime warranty; the battery warranty lasts 3 years.",
        "We give a lifetime warranty on frames and a 3 years warranty on batteries.",
    ), ("lifetime warranty", "3 years")),
    Topic("shipping", (
        "How long does shipping take?", "When will my bike arrive?", "How fast is delivery?",
        "Do you charge for shipping?", "What are the delivery times?", "Is shipping free?",
        "How many days until my order gets here?", "Shipping cost and time?",
    ), (
        "Delivery takes 4 business days, and shipping is free on orders over $100.",
        "Orders over $100 ship free and arrive in 4 business days.",
        "Shipping is free above $100, and your order arrives in 4 business days.",
    ), ("4 business days", "$100")),
    Topic("careplus", (
        "Do you have a maintenance plan?", "What is CarePlus?", "How much is the service plan?",
        "Can I pay monthly for servicing?", "Is there a subscription for repairs?",
        "What does CarePlus cost?", "Do you offer bike servicing?", "Tell me about your service plan.",
    ), (
        "CarePlus is our service plan: $9 per month for a yearly tune-up and free brake pads.",
        "Our CarePlus plan costs $9 per month and includes a yearly tune-up and free brake pads.",
        "For $9 per month, CarePlus gives you a yearly tune-up and free brake pads.",
    ), ("CarePlus", "$9 per month")),
    Topic("hours", (
        "When is support open?", "What are your opening hours?", "Can I call you on Sunday?",
        "What time can I reach customer service?", "Are you open on weekends?", "When can I talk to someone?",
        "What are your support hours?", "Is your help desk open on Saturday?",
    ), (
        "Our support team is available Monday to Saturday, 8:00 to 18:00 Central European Time.",
        "You can reach us Monday to Saturday from 8:00 to 18:00 Central European Time.",
        "Support is open Monday to Saturday, 8:00 to 18:00 Central European Time; we rest on Sundays.",
    ), ("Monday to Saturday", "8:00 to 18:00")),
    Topic("student", (
        "Do you have a student discount?", "Is there a discount for students?", "I'm a student, can I save?",
        "Any discount codes for university students?", "How do students get a discount?",
        "What is the student code?", "Do you give students a deal?", "Student pricing?",
    ), (
        "Students get 15% off with the code STUDENT15 at checkout.",
        "Use the code STUDENT15 at checkout for 15% off as a student.",
        "With a valid student ID, the code STUDENT15 takes 15% off your order.",
    ), ("STUDENT15", "15%")),
    Topic("trade-in", (
        "Can I trade in my old bike?", "Do you accept trade-ins?", "What do I get for my old e-bike?",
        "Is there a trade-in program?", "How does Spin Back work?", "Can I exchange my old bike for credit?",
        "Will you buy back my current bike?", "What is the trade-in value?",
    ), (
        "Our Spin Back program gives you up to $400 credit for your old bike.",
        "With Spin Back you can trade in your old bike for up to $400 credit toward a new one.",
        "Trade in through Spin Back and get up to $400 credit on your next Larkspur.",
    ), ("Spin Back", "$400")),
    Topic("test-ride", (
        "Can I test ride a bike?", "Where can I try a Larkspur?", "Do you offer test rides?",
        "Is there a showroom?", "Can I try before I buy?", "Where can I see the bikes in person?",
        "Do test rides cost anything?", "How do I book a test ride?",
    ), (
        "You can book a free 30-minute test ride at our Utrecht showroom.",
        "Free 30-minute test rides are available at our Utrecht showroom; book online.",
        "Come to our Utrecht showroom for a free 30-minute test ride.",
    ), ("30-minute", "Utrecht")),
    Topic("tracking", (
        "How do I track my order?", "Where is my package?", "How can I see my delivery status?",
        "Is there a tracking link?", "Where can I check my order?", "My order hasn't arrived, how do I track it?",
        "How do I find my shipment?", "Order tracking?",
    ), (
        "Track your order at larkspur.bike/track with your order number, which starts with LK-.",
        "Enter your order number (it starts with LK-) at larkspur.bike/track to see its status.",
        "You can follow your delivery at larkspur.bike/track using the order number beginning with LK-.",
    ), ("larkspur.bike/track", "LK-")),
    Topic("installments", (
        "Can I pay in installments?", "Do you offer financing?", "Can I split the payment?",
        "Is there a payment plan?", "Can I pay over time?", "Do you have interest-free payments?",
        "How does SplitPay work?", "Can I buy now and pay later?",
    ), (
        "Yes, with SplitPay you pay in 3 interest-free installments.",
        "SplitPay lets you pay in 3 interest-free installments at checkout.",
        "Choose SplitPay at checkout to pay in 3 interest-free installments.",
    ), ("SplitPay", "3 interest-free installments")),
    Topic("helmet", (
        "Do you sell helmets?", "How much is the AirShell helmet?", "What helmet do you recommend?",
        "Price of your helmet?", "Do you have a bike helmet?", "What does the AirShell cost?",
        "Is there a Larkspur helmet?", "Can I buy a helmet with my bike?",
    ), (
        "Our AirShell helmet costs $79 and has a built-in rear light.",
        "The AirShell helmet is $79, with a rear light built in.",
        "We recommend the AirShell helmet: $79, with an integrated rear light.",
    ), ("AirShell", "$79")),
)

# Who is asking and why: varies each phrasing into distinct conversations, as real tickets are.
CONTEXTS = (
    "", "I'm thinking about getting an e-bike for my commute.", "I ordered from you last week.",
    "My partner and I are comparing e-bike brands.", "I live in Rotterdam.",
    "I'm buying a bike as a birthday present.", "I saw your ad on Instagram.",
    "I have been riding a Larkspur for two years.", "I'm new to e-bikes.", "Quick question before I order.",
    "I'm asking for my father.", "I run a small delivery business.",
)
SUFFIXES = ("", "", " Thanks!", " Thank you.", " Cheers.")
VARIANTS_PER_QUESTION = 3


def support_examples(seed: int = 7) -> list[dict]:
    """Each question of each topic in a few contexts, answered in house style (deterministic).

    `metadata.group` names the question, so a split keeps all contexts of one question together and
    held-out questions are phrasings the model never saw in training.
    """
    rng = random.Random(seed)
    records = []
    for topic in TOPICS:
        for number, question in enumerate(topic.questions):
            for context in rng.sample(CONTEXTS, VARIANTS_PER_QUESTION):
                answer = f"{rng.choice(GREETINGS)} {rng.choice(topic.answers)} {SIGN_OFF}"
                user = f"{context} {question}{rng.choice(SUFFIXES)}".strip()
                records.append({
                    "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user},
                                 {"role": "assistant", "content": answer}],
                    "metadata": {"topic": topic.name, "facts": list(topic.facts),
                                 "group": f"{topic.name}-{number}"},
                })
    rng.shuffle(records)
    return records


def write_jsonl(path: Path, records: list[dict]) -> Path:
    """One record a line, UTF-8 as written (the example datasets' file format)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def write_support_dataset(path: Path, seed: int = 7) -> Path:
    """Write the examples as OpenAI fine-tuning chat JSONL (one conversation a line)."""
    return write_jsonl(path, support_examples(seed))
