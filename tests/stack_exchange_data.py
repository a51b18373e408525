"""A small table in the stack-exchange-paired schema, written by the tests that read data=stack_exchange."""

from __future__ import annotations

import numpy as np
import pandas as pd


def paired_table(n_questions: int = 80, seed: int = 0) -> pd.DataFrame:
    """Several (response_j, response_k) pairs per question; response_j is the preferred answer."""
    rng = np.random.default_rng(seed)
    rows = []
    for q in range(n_questions):
        question = f"How do I make thing {q} work with tool {q % 7}?"
        for pair in range(1 + q % 3):
            rows.append(
                {
                    "qid": q,
                    "question": question,
                    "date": "2020-01-01",
                    "metadata": ["https://example.com"],
                    "response_j": f"Install tool {q % 7}, then run it on thing {q}." + " Really." * pair,
                    "response_k": f"Try turning it off and on ({rng.integers(100)}).",
                }
            )
    return pd.DataFrame(rows)
