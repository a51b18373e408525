"""Reading a researcher's table from disk: a Parquet file, a JSONL file or a `datasets` folder (one split).
Used by the SEAM dataset tool and by data=stack_exchange; every failure is one line naming the file."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from datasets import Dataset, load_from_disk

from seam_exp.errors import UserError

FORMATS = {".parquet": "parquet", ".jsonl": "jsonl", ".json": "jsonl"}


def format_of(path: Path) -> str:
    if path.is_dir():
        return "datasets"
    if path.suffix in FORMATS:
        return FORMATS[path.suffix]
    raise UserError(f"{path}: not a .parquet, .jsonl or datasets folder")


def read_table(path: str | Path) -> tuple[Dataset, str]:
    """The table and its format (parquet, jsonl or datasets: how to write results back alike)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    fmt = format_of(path)
    try:
        if fmt == "datasets":
            data = load_from_disk(str(path))
        elif fmt == "parquet":
            data = Dataset(pq.read_table(str(path)))  # (from_parquet cannot read a file with no rows)
        elif not path.read_text().strip():
            raise UserError(f"{path}: the dataset has no rows")
        else:
            data = Dataset.from_json(str(path))
    except UserError:
        raise
    except Exception as exc:  # any reader failure is the file's problem, reported in one line
        raise UserError(f"{path}: cannot be read as {fmt} ({type(exc).__name__})") from None
    if not isinstance(data, Dataset):
        raise UserError(f"{path}: holds several splits; point to one split's folder")
    return data, fmt
