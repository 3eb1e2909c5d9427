"""The sample's synthetic personal strings: names and addresses with the CP932-only characters of real deliveries."""

from sample_data.names import SAMPLE_NAMES


def test_sample_names_hold_cp932_only_characters():
    text = "".join(SAMPLE_NAMES)
    assert {"髙", "﨑", "①", "㈱"} <= set(text)
    assert all(name.encode("cp932").decode("cp932") == name for name in SAMPLE_NAMES)
    assert bytes([0xFB, 0xFC]).decode("cp932") == "髙"
