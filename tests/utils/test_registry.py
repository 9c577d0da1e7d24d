import pytest

from hodor.utils.registry import Registry


def test_register_and_get():
    reg = Registry("backbone")

    @reg.register()
    def resnet18():
        return "r18"

    reg.register("swin_t", lambda: "swin")
    assert reg.get("resnet18")() == "r18"
    assert reg.build("swin_t") == "swin"
    assert "swin_t" in reg and len(reg) == 2
    assert reg.names() == ["resnet18", "swin_t"]


def test_unknown_name_lists_available_and_suggests():
    reg = Registry("backbone")
    reg.register("swin_t", object())
    reg.register("resnet50", object())
    with pytest.raises(KeyError) as err:
        reg.get("resnet5")
    msg = str(err.value)
    assert "resnet50, swin_t" in msg and "Did you mean 'resnet50'" in msg


def test_duplicate_registration_fails():
    reg = Registry("x")
    reg.register("a", 1)
    with pytest.raises(KeyError, match="already registered"):
        reg.register("a", 2)
