import sys
from pathlib import Path

# tests/fixtures_media.py makes the sample files (no binary fixtures in the repository).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
