"""The language toggle as kv sees it: ``text: tr._('welcome.register')`` follows the toggle.

Kivy's documented i18n pattern (``kivy.lang.Observable``): kv binds every rule that reads
``tr._`` to this object, and :meth:`Translator.switch` re-evaluates those rules, so a
screen never has to refresh its own labels. Rules that show a message chosen at run time
keep the *key* in a property (``text: tr._(root.error)``) and follow the toggle as well.
"""

from __future__ import annotations

from kivy.lang import Observable

from kiosk.ui.i18n import DEFAULT, Catalog


class Translator(Observable):
    """The current language and its texts, observable from kv rules."""

    def __init__(self, catalog: Catalog | None = None, lang: str = DEFAULT) -> None:
        super().__init__()
        self._catalog = catalog
        self.lang = lang
        self._observers: dict[int, tuple] = {}
        self._next_uid = 1

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog.load()
        return self._catalog

    def _(self, key: str, _default: str | None = None, **params: object) -> str:
        """The text of ``key`` in the current language; empty for an empty key."""
        if not key:
            return ""
        return self.catalog.text(self.lang, key, _default, **params)

    def switch(self, lang: str) -> None:
        """Change the language; every kv rule using ``tr._`` is evaluated again."""
        if lang not in self.catalog.languages:
            raise ValueError(f"no texts for language {lang!r}")
        self.lang = lang
        for func, largs, kwargs in list(self._observers.values()):
            func(*largs, None, None, **kwargs)

    def use(self, catalog: Catalog, lang: str) -> None:
        """Start over with ``catalog`` (a new app in the same process: tests, screenshots)."""
        self._catalog = catalog
        self.switch(lang)

    def forget(self) -> None:
        """Drop every kv rule bound so far (the app's widgets are gone: tests, screenshots)."""
        self._observers.clear()

    # Observable's binding protocol, for the pseudo-property "_".
    def fbind(self, name, func, *largs, **kwargs):  # noqa: D401 - Kivy's signature
        if name != "_":
            return super().fbind(name, func, *largs, **kwargs)
        uid = self._next_uid
        self._next_uid += 1
        self._observers[uid] = (func, largs, kwargs)
        return uid

    def funbind(self, name, func, *largs, **kwargs):
        if name != "_":
            return super().funbind(name, func, *largs, **kwargs)
        for uid, entry in list(self._observers.items()):
            if entry == (func, largs, kwargs):
                del self._observers[uid]
                return

    def unbind_uid(self, name, uid):
        if name != "_":
            return super().unbind_uid(name, uid)
        self._observers.pop(uid, None)


tr = Translator()
