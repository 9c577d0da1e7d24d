import pytest

from hodor.training.cycles import CycleSchedule, Step, parse_cycles


def _as_lists(cycles):
    return [[(list(s.src), s.tgt) for s in c] for c in cycles]


def test_default_schedule_is_the_original_for_three_frames():
    sched = CycleSchedule("", num_frames=3)
    even = _as_lists(sched.cycles(0))
    odd = _as_lists(sched.cycles(1))
    assert even == [
        [([0], 0)],
        [([0], 1), ([1], 0)],
        [([0], 1), ([1], 2), ([2], 1), ([1], 0)],
    ]
    assert odd == [
        [([0], 0)],
        [([0], 1), ([1], 0)],
        [([0], 1), ([0, 1], 2), ([2], 1), ([1, 2], 0)],
    ]
    assert _as_lists(sched.cycles(2)) == even and _as_lists(sched.cycles(7)) == odd


# Expected schedules read from the original's TrainModel.forward (hodor/training/train_model.py @ 45da732):
# num_other_frames 0 -> one backward step [0]->0; 1 -> [0]->0, fwd [0]->1 bwd [1]->0, fwd [0]->1 bwd
# [0,1]->0 (no parity); 2 -> see the test above. The original raises for more frames.
ORIGINAL = {
    1: ([[([0], 0)]], [[([0], 0)]]),
    2: (
        [[([0], 0)], [([0], 1), ([1], 0)], [([0], 1), ([0, 1], 0)]],
        [[([0], 0)], [([0], 1), ([1], 0)], [([0], 1), ([0, 1], 0)]],
    ),
    3: (
        [[([0], 0)], [([0], 1), ([1], 0)], [([0], 1), ([1], 2), ([2], 1), ([1], 0)]],
        [[([0], 0)], [([0], 1), ([1], 0)], [([0], 1), ([0, 1], 2), ([2], 1), ([1, 2], 0)]],
    ),
}


@pytest.mark.parametrize("num_frames", sorted(ORIGINAL))
def test_default_schedule_per_clip_length_is_the_original(num_frames):
    even, odd = ORIGINAL[num_frames]
    sched = CycleSchedule("", num_frames)
    for it in (0, 2, 10):
        assert _as_lists(sched.cycles(it)) == even
    for it in (1, 3, 11):
        assert _as_lists(sched.cycles(it)) == odd


def test_shorter_clips_and_custom_specs():
    assert _as_lists(CycleSchedule("", 1).cycles(1)) == [[([0], 0)]]
    sched = CycleSchedule("[0]->1; [1]->0 || [0]->1; [0,1]->0", 2)
    assert _as_lists(sched.cycles(0)) == [[([0], 1), ([1], 0)]]
    assert _as_lists(sched.cycles(1)) == [[([0], 1), ([0, 1], 0)]]
    assert parse_cycles("[0]->1'; [1]->0")[0][0] == Step((0,), 1)  # original's trailing quote is ignored


@pytest.mark.parametrize(
    "spec,match",
    [
        ("[0]->3", "clips have 3 frames"),
        ("[1]->0", "before any step"),
        ("0->1", "cannot parse"),
        (" ; ", "no step"),
        ("a || b || c", "at most one"),
    ],
)
def test_bad_specs_fail_clearly(spec, match):
    with pytest.raises(ValueError, match=match):
        CycleSchedule(spec, 3)
