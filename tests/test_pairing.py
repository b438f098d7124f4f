"""One frame-mask pairing rule for training, evaluation and the app, on a folder longer than max_frames."""

import numpy as np
import pytest
import torch
from helpers import save_palette_mask
from PIL import Image

from osmis_core.application.evaluation import read_real
from osmis_core.data.sources import find_source, load_frame_set, load_training_data, pick_evenly
from osmis_core.errors import DataError

W, H = 128, 64


def _frames_folder(root, n=12):
    """n frames whose masks each mark a box at a frame-specific column: mask i is told apart by its content."""
    (root / "image").mkdir(parents=True)
    (root / "mask").mkdir()
    for i in range(n):
        img = np.full((H, W, 3), 40 + 15 * i, np.uint8)
        ids = np.zeros((H, W), np.uint8)
        ids[8:40, 2 + 3 * i : 6 + 3 * i] = 1
        img[ids == 1] = [220, 30, 30]
        Image.fromarray(img).save(root / "image" / f"f{i:02d}.png")
        save_palette_mask(ids, root / "mask" / f"f{i:02d}.png")
    return root


def _box_column(ids: np.ndarray) -> int:
    cols = np.nonzero(ids.any(axis=0))[0]
    return int(cols[0])


def test_training_and_evaluation_pair_the_same_masks_with_the_same_frames(tmp_path):
    data = _frames_folder(tmp_path / "clip")
    frame_set = load_frame_set(find_source(data), 5)
    assert frame_set.indices == pick_evenly(12, 5) == [0, 3, 6, 8, 11]
    assert [p.name for p in frame_set.masks] == [f"f{i:02d}.png" for i in frame_set.indices]

    train = load_training_data(data, max_size=W, max_frames=5)
    assert (train.architecture.height, train.architecture.width) == (H, W)
    images, masks = read_real(data, None, (H, W), max_frames=5)
    train_ids = train.masks.argmax(1).numpy()
    eval_ids = masks.numpy()
    # each chosen frame i carries mask i (box at column 2 + 3 i) in both
    assert [_box_column(m) for m in train_ids] == [2 + 3 * i for i in frame_set.indices]
    assert [_box_column(m) for m in eval_ids] == [2 + 3 * i for i in frame_set.indices]
    # and the frames are the same frames (their brightness tells them apart)
    train_grey = ((train.images[:, :, 0, 0] + 1) * 127.5).round()
    eval_grey = (images[:, :, 0, 0] * 255).round()
    assert torch.equal(train_grey, eval_grey)
    assert eval_grey[:, 0].tolist() == [40 + 15 * i for i in frame_set.indices]


def test_app_preview_uses_the_same_rule(tmp_path):
    pytest.importorskip("PySide6")
    from osmis_gui.jobs import load_preview

    data = _frames_folder(tmp_path / "clip")
    preview = load_preview(str(data), None, {"max_frames": 5})
    assert preview.frame_names == [f"f{i:02d}.png" for i in [0, 3, 6, 8, 11]]
    assert preview.mask_error is None and len(preview.overlays) == 5


def test_mask_count_must_match_frame_count(tmp_path):
    data = _frames_folder(tmp_path / "clip")
    (data / "mask" / "f11.png").rename(data / "mask" / "zz.png")  # 12 masks, one with another name
    (data / "mask" / "zz.png").unlink()
    with pytest.raises(DataError, match="no mask for frame f11.png"):
        load_frame_set(find_source(data), 5)
