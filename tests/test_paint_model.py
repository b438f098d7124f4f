"""The Paint page's model without Qt (osmis_gui/paint_model.py): tools, undo / redo, regions, variant noises."""

import numpy as np

from osmis_gui.paint_model import (
    UNDO_LIMIT,
    LayoutModel,
    NoiseModel,
    RegionModel,
    disc_segment,
)


def _blank(h=20, w=30, k=4):
    return LayoutModel(np.zeros((h, w), np.uint8), k)


def test_a_stroke_is_one_undo_step_and_paints_a_capsule():
    m = _blank()
    m.begin_stroke(5, 5, 2, 2)
    m.stroke_to(12, 5)
    m.stroke_to(12, 9)
    assert m.end_stroke()
    yy, xx = np.mgrid[0:20, 0:30]
    horizontal = ((xx >= 5) & (xx <= 12) & (abs(yy - 5) <= 2)) | ((xx - 5) ** 2 + (yy - 5) ** 2 <= 4)
    vertical = ((yy >= 5) & (yy <= 9) & (abs(xx - 12) <= 2)) | ((xx - 12) ** 2 + (yy - 9) ** 2 <= 4)
    expected = horizontal | vertical | ((xx - 12) ** 2 + (yy - 5) ** 2 <= 4)
    assert np.array_equal(m.ids == 2, expected)
    assert m.undo() and not m.ids.any()
    assert m.redo() and np.array_equal(m.ids == 2, expected)


def test_fill_rect_lasso_and_undo_limit():
    m = _blank()
    m.fill_rect(2, 3, 6, 4, 1)
    assert (m.ids == 1).sum() == 5 * 2
    m.fill(0, 0, 3)  # the background around the rectangle is one region
    assert (m.ids == 3).sum() == 20 * 30 - 10 and (m.ids == 1).sum() == 10
    m.fill_polygon([(10, 10), (20, 10), (20, 15), (10, 15)], 2)
    assert (m.ids == 2).sum() == 11 * 6
    assert not m.fill(0, 0, 3)  # no change, no undo step
    for i in range(UNDO_LIMIT + 5):
        m.fill_rect(0, 0, 0, 0, 1 + i % 2)
    n = 0
    while m.undo():
        n += 1
    assert n == UNDO_LIMIT


def test_region_picks_class_and_8_connected_instance():
    ids = np.zeros((6, 6), np.uint8)
    ids[1, 1] = ids[2, 2] = 1  # diagonal neighbours: one instance
    ids[4, 4] = 1
    r = RegionModel(ids.shape)
    r.pick_instance(ids, 1, 1)
    assert r.mask.sum() == 2 and r.mask[2, 2] and not r.mask[4, 4]
    r.pick_class(ids, 4, 4)
    assert r.mask.sum() == 3
    assert disc_segment((6, 6), (50, 50), (60, 60), 2) is None


def test_locked_variants_keep_their_seed():
    n = NoiseModel()
    n.set_strip_size(3)
    seeds = [s.seed for s in n.slots]
    assert len(set(seeds + [n.seed])) == 4
    n.slots[1].locked = True
    n.new_variants()
    assert n.slots[1].seed == seeds[1] and n.slots[0].seed != seeds[0] and n.slots[2].seed != seeds[2]
    n.reroll(np.ones((2, 2), bool))
    n.choose(1)
    assert n.seed == seeds[1] and n.rerolls == []
