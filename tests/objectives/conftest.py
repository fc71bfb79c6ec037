import sys
from pathlib import Path

# Share the tiny-config helpers with tests/train.
sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
sys.path.insert(0, str(Path(__file__).parent))
