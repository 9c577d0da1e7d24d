import os

import pytest
import yaml

from hodor.config import ConfigError, cfg_to_dict, dump_config, get_cfg, load_config, merge_from_list

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write(path, data):
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh)
    return str(path)


def test_defaults_have_expected_original_values():
    cfg = get_cfg()
    assert cfg.MODEL.ENCODER.NUM_LAYERS == 5
    assert cfg.MODEL.DECODER.FFN_DIM == 256
    assert cfg.INPUT.PIXEL_MEAN == [123.675, 116.28, 103.53]
    assert cfg.TRAINING.DETACH_INTERMEDIATE_MASKS is True


def test_base_chain_is_applied_in_order(tmp_path):
    a = write(tmp_path / "a.yaml", {"SOLVER": {"BASE_LR": 0.5, "MAX_ITER": 7}, "SEED": 1})
    os.makedirs(tmp_path / "sub")
    b = write(tmp_path / "sub" / "b.yaml", {"_BASE_": "../a.yaml", "SOLVER": {"BASE_LR": 0.25}})
    c = write(tmp_path / "sub" / "c.yaml", {"_BASE_": "b.yaml", "SEED": 3})
    cfg = load_config(c)
    assert cfg.SOLVER.BASE_LR == 0.25  # b overrides a
    assert cfg.SOLVER.MAX_ITER == 7  # from a
    assert cfg.SEED == 3  # c overrides a
    assert a and b


def test_base_loop_is_reported(tmp_path):
    write(tmp_path / "x.yaml", {"_BASE_": "y.yaml"})
    write(tmp_path / "y.yaml", {"_BASE_": "x.yaml"})
    with pytest.raises(ConfigError, match="loops back"):
        load_config(str(tmp_path / "x.yaml"))


def test_unknown_key_names_key_file_and_suggestions(tmp_path):
    path = write(tmp_path / "typo.yaml", {"SOLVER": {"BASE_LRR": 1e-4}})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert "SOLVER.BASE_LRR" in msg
    assert "typo.yaml" in msg
    assert "SOLVER.BASE_LR" in msg.split("Closest valid keys:")[1]


def test_original_typo_of_sparse_config_is_rejected(tmp_path):
    path = write(tmp_path / "sparse.yaml", {"DATA": {"SPARSE_VIDEO_DPLIT": 0.8}})
    with pytest.raises(ConfigError, match="DATA"):
        load_config(path)


def test_cli_overrides_are_typed():
    cfg = load_config(None, ["SOLVER.BASE_LR", "2e-5", "SOLVER.STEPS", "[10, 20]", "TRAINING.MODE", "sparse_video"])
    assert cfg.SOLVER.BASE_LR == pytest.approx(2e-5)
    assert cfg.SOLVER.STEPS == [10, 20]
    assert cfg.TRAINING.MODE == "sparse_video"
    # int is accepted for a float key
    cfg = load_config(None, ["SOLVER.BASE_LR", "1"])
    assert isinstance(cfg.SOLVER.BASE_LR, float)


@pytest.mark.parametrize(
    "opts,match",
    [
        (["SOLVER.MAX_ITER", "1.5"], "wrong type for SOLVER.MAX_ITER"),
        (["SOLVER.BASE_LR", "fast"], "wrong type for SOLVER.BASE_LR"),
        (["TRAINING.DETACH_INTERMEDIATE_MASKS", "1"], "wrong type"),
        (["SOLVER.MAX_ITR", "5"], "Closest valid keys: SOLVER.MAX_ITER"),
        (["SOLVER", "5"], "is a section"),
        (["SOLVER.MAX_ITER"], "KEY VALUE pairs"),
        (["SOLVER.PRECISION", "fp8"], "not one of"),
    ],
)
def test_bad_cli_overrides_are_rejected(opts, match):
    with pytest.raises(ConfigError, match=match):
        load_config(None, opts)


def test_wrong_type_in_yaml_names_file(tmp_path):
    path = write(tmp_path / "bad.yaml", {"SOLVER": {"MAX_ITER": "many"}})
    with pytest.raises(ConfigError, match=r"bad\.yaml.*SOLVER\.MAX_ITER"):
        load_config(path)


def test_config_is_frozen():
    cfg = load_config(None, [])
    with pytest.raises(AttributeError):
        cfg.SOLVER.BASE_LR = 1.0


def test_dump_then_reload_is_equal(tmp_path):
    cfg = load_config(
        None, ["SOLVER.BASE_LR", "3e-5", "DATASETS.TRAIN", "['a', 'b']", "DATASETS.TRAIN_RATIOS", "[0.8, 0.2]"]
    )
    path = dump_config(cfg, str(tmp_path / "out" / "config.yaml"))
    again = load_config(path)
    assert cfg_to_dict(again) == cfg_to_dict(cfg)


def test_mutable_merge_does_not_touch_defaults():
    cfg = get_cfg()
    merge_from_list(cfg, ["SEED", "5"])
    assert get_cfg().SEED == 42


def test_shipped_configs_load():
    cfg_dir = os.path.join(REPO, "configs")
    files = [os.path.join(r, f) for r, _, fs in os.walk(cfg_dir) for f in fs if f.endswith(".yaml")]
    assert files, "configs/ has no YAML files"
    for f in files:
        load_config(f)


def test_value_outside_choices_names_file_and_key(tmp_path):
    p = tmp_path / "bad_choice.yaml"
    p.write_text(yaml.safe_dump({"MODEL": {"DECODER": {"DEFORM_CONV_IMPL": "gridsample"}}}))
    with pytest.raises(ConfigError, match=r"bad_choice\.yaml.*MODEL\.DECODER\.DEFORM_CONV_IMPL = 'gridsample'"):
        load_config(str(p))
    with pytest.raises(ConfigError, match=r"command-line overrides: TRAINING\.SPARSE_REF_FRAME"):
        load_config(None, ["TRAINING.SPARSE_REF_FRAME", "last"])
