"""Import hook that lets the stock `textattack` command line see scd-plugins models and recipes.

TextAttack has no plug-in registry: `--model` and `--recipe` are looked up in module-level dicts
(`textattack.model_args`, `textattack.dataset_args`, `textattack.attack_args`). The wheel installs
`scd_plugins_textattack.pth` (this folder), whose one line defines a tiny bootstrap finder and puts it
first on `sys.meta_path`. For every import except `textattack` the bootstrap returns None at once
(about half a microsecond per newly imported module; the `.pth` line itself costs about 0.4 ms at
start-up). When `textattack` is imported, the bootstrap removes itself, loads this file by path
(without importing `scd_plugins`, whose import pulls in scikit-learn) and hands over to
`TextAttackPatcher`, which acts on four modules only:

- `textattack` (before it runs): give NLTK a fallback stopword list, because `import textattack`
  builds `StopwordModification()` at import time and fails on a machine without NLTK's corpus;
- `textattack.model_args`, `textattack.dataset_args`, `textattack.attack_args` (after they run):
  `scd_plugins.textattack.registration` adds our model names, datasets and recipes.

Importing `scd_plugins.textattack` installs the same finder, so in-process use works without the
`.pth` file. Disable both with SCD_PLUGINS_NO_TEXTATTACK_HOOK=1.
"""
from __future__ import annotations

import os
import sys

_BEFORE = frozenset({"textattack"})
_AFTER = frozenset({"textattack.model_args", "textattack.dataset_args", "textattack.attack_args"})
_WATCHED = _BEFORE | _AFTER
_NLTK_FALLBACK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nltk_data")


def nltk_fallback_dir() -> str:
    """Folder in NLTK's data layout holding `corpora/stopwords/english` (TextFooler's stopword list)."""
    return _NLTK_FALLBACK


def add_nltk_fallback() -> None:
    """Append our NLTK data folder to the END of nltk.data.path: a real NLTK corpus still wins."""
    import nltk.data

    if _NLTK_FALLBACK not in nltk.data.path:
        nltk.data.path.append(_NLTK_FALLBACK)


def _after_exec(fullname: str, module) -> None:
    """Patch a loaded module; a broken scd-plugins must not break TextAttack, so failures only warn."""
    try:
        from scd_plugins.textattack import registration

        registration.patch_module(fullname, module)
    except Exception as err:  # noqa: BLE001
        sys.stderr.write(f"scd-plugins: could not register with TextAttack ({fullname}): {err!r}\n")


class TextAttackPatcher:
    """Meta path finder: wraps the loaders of the watched TextAttack modules, ignores all others."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _WATCHED:
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        original = spec.loader.exec_module

        def exec_module(module, _original=original, _name=fullname):
            if _name in _BEFORE:
                try:
                    add_nltk_fallback()
                except ImportError:       # NLTK missing: textattack's own import will say so
                    pass
            _original(module)
            if _name in _AFTER:
                _after_exec(_name, module)

        spec.loader.exec_module = exec_module       # per-module loader instance: other modules unaffected
        return spec


def install() -> TextAttackPatcher | None:
    """Put the finder first on sys.meta_path (once), unless disabled by the environment.

    If TextAttack is already imported (the hook came late), its modules are patched directly.
    """
    if os.environ.get("SCD_PLUGINS_NO_TEXTATTACK_HOOK"):
        return None
    for finder in sys.meta_path:
        if type(finder).__name__ == "TextAttackPatcher":
            return finder
    finder = TextAttackPatcher()
    sys.meta_path.insert(0, finder)
    for name in _AFTER:
        if name in sys.modules:
            _after_exec(name, sys.modules[name])
    return finder


def register() -> None:
    """Install the import hook and patch TextAttack, importing it if needed (the `.pth`-free path)."""
    from scd_plugins.textattack import registration

    if "textattack" not in sys.modules:
        try:
            add_nltk_fallback()
        except ImportError:
            pass
    install()
    import textattack.attack_args  # noqa: F401  (loads all three modules)

    for name in registration._PATCHERS:
        registration.patch_module(name, sys.modules[name])
