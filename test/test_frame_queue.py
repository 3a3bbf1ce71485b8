"""The frames waiting for the node's worker (loco_ros.runtime.frame_queue)."""

import threading

import pytest

from loco_ros.errors import ConfigError
from loco_ros.runtime.frame_queue import FrameQueue
from loco_ros.runtime.node_config import MAX_FRAME_QUEUE, NodeConfig


def test_capacity_one_keeps_only_the_newest_and_counts_the_rest() -> None:
    queue: FrameQueue[int] = FrameQueue()
    assert [queue.put(i) for i in range(4)] == [False, True, True, True]
    assert queue.skipped == 3
    assert queue.take(timeout_s=0) == 3
    assert queue.take(timeout_s=0) is None


def test_a_larger_queue_keeps_arrival_order_and_drops_the_oldest_when_full() -> None:
    queue: FrameQueue[int] = FrameQueue(3)
    assert [queue.put(i) for i in range(5)] == [False, False, False, True, True]
    assert queue.skipped == 2 and len(queue) == 3
    assert [queue.take(timeout_s=0) for _ in range(4)] == [2, 3, 4, None]


def test_close_releases_a_waiting_taker_and_reopen_empties_and_resizes() -> None:
    queue: FrameQueue[int] = FrameQueue(2)
    taken: list = []
    taker = threading.Thread(target=lambda: taken.append(queue.take(timeout_s=30)))
    taker.start()
    queue.close()
    taker.join(timeout=10)
    assert not taker.is_alive() and taken == [None]
    queue.put(1)
    queue.reopen(5)
    assert len(queue) == 0 and queue.capacity == 5
    for i in range(5):
        assert not queue.put(i)


def test_a_waiting_taker_gets_the_frame_put_from_another_thread() -> None:
    queue: FrameQueue[str] = FrameQueue()
    taken: list = []
    taker = threading.Thread(target=lambda: taken.append(queue.take(timeout_s=30)))
    taker.start()
    queue.put("frame")
    taker.join(timeout=10)
    assert taken == ["frame"]


@pytest.mark.parametrize("capacity", [0, -1])
def test_capacity_below_one_is_refused(capacity: int) -> None:
    with pytest.raises(ValueError, match="capacity"):
        FrameQueue(capacity)


@pytest.mark.parametrize("frames", [0, MAX_FRAME_QUEUE + 1])
def test_node_config_refuses_a_frame_queue_out_of_range(frames: int) -> None:
    with pytest.raises(ConfigError, match="frame_queue"):
        NodeConfig(frame_queue=frames)
