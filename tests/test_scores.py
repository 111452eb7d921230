"""agora.scores: PLR's priority scores on small rollouts computed by hand."""

from __future__ import annotations

import pytest

from agora import scores

# One episode of three steps, gamma 0.9, lambda 0.5:
# TD errors d = (0 + 0.9 * 0.9 - 0.5, 0 + 0.9 * 0.8 - 0.9, 1 - 0.8) = (0.31, -0.18, 0.2);
# advantages A2 = 0.2, A1 = -0.18 + 0.45 * 0.2 = -0.09, A0 = 0.31 + 0.45 * -0.09 = 0.2695.
REWARDS, VALUES, DONES = [0.0, 0.0, 1.0], [0.5, 0.9, 0.8], [False, False, True]


def test_advantage_scores_of_one_episode() -> None:
    args = (REWARDS, VALUES, DONES, 0.9, 0.5)
    assert scores.gae(*args) == pytest.approx((0.2695 - 0.09 + 0.2) / 3)
    assert scores.value_l1(*args) == pytest.approx((0.2695 + 0.09 + 0.2) / 3)
    assert scores.positive_value_loss(*args) == pytest.approx((0.2695 + 0.2) / 3)


def test_one_step_td_error() -> None:
    assert scores.one_step_td_error(REWARDS, VALUES, DONES, 0.9) == pytest.approx((0.31 + 0.18 + 0.2) / 3)


def test_episode_ends_stop_bootstrapping_and_a_cut_rollout_bootstraps_from_last_value() -> None:
    # Step 0 ends an episode: d0 = 1, its advantage sees nothing after it. The rollout is cut
    # after step 2: d2 = 1 + 1 * last_value(1) - 0 = 2, and A1 = 0 + A2 = 2.
    rollout = ([1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [True, False, False])
    assert scores.gae(*rollout, 1.0, 1.0, last_value=1.0) == pytest.approx((1 + 2 + 2) / 3)
    assert scores.one_step_td_error(*rollout, 1.0, last_value=1.0) == pytest.approx((1 + 0 + 2) / 3)
    assert scores.gae(*rollout, 1.0, 1.0) == pytest.approx((1 + 1 + 1) / 3)  # last_value 0


def test_max_mc_uses_the_best_episode_return_or_the_best_seen_before() -> None:
    assert scores.max_mc(REWARDS, VALUES, DONES) == pytest.approx((0.5 + 0.1 + 0.2) / 3)
    assert scores.max_mc(REWARDS, VALUES, DONES, best_return=2.0) == pytest.approx((1.5 + 1.1 + 1.2) / 3)
    two_episodes = ([1.0, 0.0, 3.0], [0.0, 1.0, 2.0], [True, False, True])  # returns 1 and 3
    assert scores.max_mc(*two_episodes) == pytest.approx((3 + 2 + 1) / 3)
    with pytest.raises(ValueError, match="finished episode"):
        scores.max_mc([0.0], [0.0], [False])


def test_bad_rollouts_are_refused_naming_the_problem() -> None:
    with pytest.raises(ValueError, match="same shape"):
        scores.value_l1([0.0, 1.0], [0.0], [False, True], 0.9, 0.9)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        scores.gae([], [], [], 0.9, 0.9)
    with pytest.raises(ValueError, match="gamma must be in"):
        scores.one_step_td_error(REWARDS, VALUES, DONES, 1.5)
    with pytest.raises(ValueError, match="lam must be in"):
        scores.gae(REWARDS, VALUES, DONES, 0.9, -0.1)
