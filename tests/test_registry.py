"""The generic component registry: names in order, one clear error for an unknown name, no name
taken twice, a "module:attribute" entry imported on first use and checked to carry its name."""

from __future__ import annotations

import pytest

from vaelab.registry import Registry, RegistryError, catalog


class Alpha:
    name = "alpha"


class Several:
    names = ("one", "two")


def test_names_keep_their_order_and_an_unknown_name_lists_the_choices() -> None:
    registry: Registry[type] = Registry("widget")
    registry.register(Alpha)
    registry.add("beta", "tests.test_registry:Alpha")
    assert registry.names() == ("alpha", "beta") and "alpha" in registry and "gamma" not in registry
    with pytest.raises(RegistryError, match=r"^unknown widget 'gamma'; choose one of alpha, beta$"):
        registry.get("gamma")
    assert isinstance(RegistryError("x"), ValueError)  # config errors stay ValueErrors


def test_a_name_is_registered_once() -> None:
    registry: Registry[type] = Registry("widget")
    registry.register(Alpha)
    with pytest.raises(RegistryError, match="widget 'alpha' is already registered"):
        registry.register(Alpha)
    with pytest.raises(RegistryError, match="declares no `name`"):
        registry.register(object)
    registry.remove("alpha")
    assert registry.register(Alpha) is Alpha  # works as a class decorator


def test_a_catalog_entry_is_imported_on_first_use_and_must_carry_its_name() -> None:
    registry = catalog("widget", {"alpha": "tests.test_registry:Alpha",
                                  "beta": "tests.test_registry:Alpha",
                                  "one": "tests.test_registry:Several"})
    assert registry.target("alpha") == "tests.test_registry:Alpha"
    assert registry.get("alpha") is Alpha and registry.target("alpha") is Alpha
    assert registry.get("one") is Several  # a class answering several names
    with pytest.raises(RegistryError, match=r"widget 'beta' points at tests.test_registry:Alpha, "
                                            r"which declares \('alpha',\)"):
        registry.get("beta")
