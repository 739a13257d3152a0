"""videokit: video URLs and files into a searchable, tagged, AI-described library."""

__version__ = "0.1.0"
