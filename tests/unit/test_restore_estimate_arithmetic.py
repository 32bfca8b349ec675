"""The arithmetic of restore estimates: rates from past restores, a node's time, the
group's time. Pure functions: no database, no PostgreSQL."""

from __future__ import annotations

import pytest

from localcloud import rates
from localcloud.estimate import group_seconds

MB = 1_000_000


def run(*nodes: tuple[int, float, int, float], seconds: float, backup: float = 0.2) -> rates.Run:
    return rates.Run(
        group="copy",
        finished_at="2026-11-25T10:00:00+00:00",
        seconds=seconds,
        nodes=tuple(
            rates.NodeRun(f"node-{i}", unpack, unpack_s, wal, replay_s, backup)
            for i, (unpack, unpack_s, wal, replay_s) in enumerate(nodes)
        ),
    )


def test_before_any_restore_the_documented_defaults_are_used():
    figures = rates.derive([])

    assert figures.runs == 0
    assert figures.unpack_rate == 150e6
    assert figures.replay_rate == 60e6
    assert "no restore has been measured" in figures.basis()


def test_defaults_err_long_for_a_gigabyte():
    # 1 GB unpacked and 1 GB of WAL: about 7 s + 17 s at the defaults, more than the
    # 1.25 s and 10.6 s measured on these machines.
    seconds = rates.Rates().node_seconds(1000 * MB, 1000 * MB)

    assert seconds == pytest.approx(0.1 + 1000 / 150 + 1.0 + 1000 / 60 + 0.5)


def test_fixed_part_and_rate_are_told_apart_by_small_and_large_restores():
    # Replay: 1 s to start and promote, then 200 MB/s; unpack: 0.05 s, then 500 MB/s.
    samples = [
        run((10 * MB, 0.05 + 10 / 500, 2 * MB, 1.0 + 2 / 200), seconds=1.5),
        run((800 * MB, 0.05 + 800 / 500, 4 * MB, 1.0 + 4 / 200), seconds=3.0),
        run((20 * MB, 0.05 + 20 / 500, 400 * MB, 1.0 + 400 / 200), seconds=3.5),
    ]

    figures = rates.derive(samples)

    assert figures.runs == 3
    assert figures.replay_fixed == pytest.approx(1.0, rel=0.05)
    assert figures.replay_rate == pytest.approx(200 * MB, rel=0.05)
    assert figures.unpack_fixed == pytest.approx(0.05, rel=0.1)
    assert figures.unpack_rate == pytest.approx(500 * MB, rel=0.05)
    assert "measured in the last 3 restores" in figures.basis()


def test_one_slow_run_does_not_swing_the_rate():
    steady = [run((10 * MB, 0.1, 300 * MB, 1.0 + 300 / 100), seconds=4.5) for _ in range(4)]
    slow = run((10 * MB, 0.1, 300 * MB, 1.0 + 300 / 10), seconds=31.5)

    figures = rates.derive(steady + [slow])

    assert figures.replay_rate == pytest.approx(100 * MB, rel=0.05)


def test_only_small_restores_keep_the_default_rate_and_measure_the_fixed_part():
    figures = rates.derive([run((5 * MB, 0.12, 1 * MB, 0.8), seconds=1.2)])

    assert figures.replay_rate == rates.DEFAULT_REPLAY_RATE
    assert figures.replay_fixed == pytest.approx(0.8 - MB / rates.DEFAULT_REPLAY_RATE)


def test_a_sample_faster_than_the_fixed_part_gives_a_finite_rate():
    fixed, rate = rates.fit([(1 * MB, 2.0), (100 * MB, 0.5)], 60e6, 1.0)

    assert 0 < rate < float("inf")
    assert fixed >= 0


def test_more_nodes_than_cores_share_them_in_the_rates_and_the_estimate():
    # 4 nodes on 2 cores: each had half a core, so a whole core is twice as fast (the
    # 4 s of unpacking are 2 s of a whole core, less the default fixed part).
    four = run(*[(400 * MB, 4.0, 1 * MB, 1.0)] * 4, seconds=6.0)

    figures = rates.derive([four], cores=2)

    assert figures.unpack_rate == pytest.approx(400 * MB / (2.0 - rates.DEFAULT_UNPACK_FIXED))
    alone = figures.node_seconds(400 * MB, 1 * MB, nodes=1)
    assert figures.node_seconds(400 * MB, 1 * MB, nodes=4) == pytest.approx(2 * alone)
    assert figures.node_seconds(400 * MB, 1 * MB, nodes=2) == pytest.approx(alone)


def test_overhead_is_the_restore_outside_its_slowest_node():
    measured = run((10 * MB, 1.0, 5 * MB, 2.0), (10 * MB, 1.5, 5 * MB, 2.5), seconds=5.0)

    # slowest node: 1.5 + 2.5 + 0.2 backup = 4.2 s
    assert measured.overhead == pytest.approx(0.8)


def test_nodes_restore_in_parallel_so_the_group_takes_the_slowest_plus_overhead():
    figures = rates.Rates(overhead=0.5)

    assert group_seconds([3.0, 7.5, 4.0], figures) == 8.0
    assert group_seconds([], figures) == 0.5


def test_runs_are_kept_in_the_engine_root_and_only_the_last_ones(tmp_path):
    for index in range(rates.KEEP + 3):
        rates.record(tmp_path, run((MB, 0.1, MB, 1.0), seconds=float(index + 2)))

    kept = rates.runs(tmp_path)

    assert len(kept) == rates.KEEP
    assert kept[-1].seconds == rates.KEEP + 4
    assert (tmp_path / rates.FILE).stat().st_mode & 0o777 == 0o600


def test_a_damaged_file_falls_back_to_the_defaults(tmp_path):
    (tmp_path / rates.FILE).write_text("{not json")

    assert rates.measured(tmp_path) == rates.Rates()
