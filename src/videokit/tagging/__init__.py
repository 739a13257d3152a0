"""Tagging and classification with provenance.

Rules are data (``custom_tags.json`` in the original format, extended; built-in defaults in
``videokit/data/builtin_rules.json``); the taxonomy is data (``videokit/data/taxonomy.json``).
Everything is validated when loaded: a bad file is a :class:`~videokit.errors.ConfigError`
naming the file, the rule (or signal) and the field, before any video is processed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from videokit.tagging.classify import Taxonomy, load_taxonomy, load_taxonomy_file
from videokit.tagging.engine import Tagger, merge_tags
from videokit.tagging.keywords import KeywordMatcher
from videokit.tagging.priority import load_priority_keywords, load_priority_keywords_file, write_examples
from videokit.tagging.retag import RetagReport, retag
from videokit.tagging.rules import Rule, RuleSet, load_rules, load_rules_file

if TYPE_CHECKING:
    from videokit.config import Config


def check_config(config: Config) -> Tagger:
    """Load and cross-check rules, taxonomy and priority keywords; raise ConfigError on any problem.

    Call before any download. Returns the ready :class:`Tagger`.
    """
    tagger = Tagger(load_rules(config), load_taxonomy(config))
    load_priority_keywords(config)
    return tagger


__all__ = [
    "KeywordMatcher",
    "RetagReport",
    "Rule",
    "RuleSet",
    "Tagger",
    "Taxonomy",
    "check_config",
    "load_priority_keywords",
    "load_priority_keywords_file",
    "load_rules",
    "load_rules_file",
    "load_taxonomy",
    "load_taxonomy_file",
    "merge_tags",
    "retag",
    "write_examples",
]
