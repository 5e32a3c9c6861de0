"""The files of a run folder, and writing them so that a crash never leaves a torn one.

Light on purpose (no torch): configs and the command line name these files too.
"""

from __future__ import annotations

from vaelab.atomic_files import atomic_write_bytes as atomic_write_bytes
from vaelab.atomic_files import atomic_write_text as atomic_write_text
from vaelab.atomic_files import remove_stale_temporaries as remove_stale_temporaries
from vaelab.atomic_files import temporary_beside as temporary_beside

CHECKPOINT = "checkpoint.safetensors"
BEST_WEIGHTS = "model_best.safetensors"
CONFIG = "config.json"
