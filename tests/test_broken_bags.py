"""Broken bags: one BagReadError that names the file and the fault; unfinished MCAP recordings recovered.

Valid bags are written with rosbags' writers first (MCAP with several chunks, sqlite3, ROS 1),
then emptied, truncated, overwritten or stripped of their metadata.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from bag_files import FRAMES, HW, TOPIC, truncate, write_ros1, write_rosbag2

from vdpm_ros.bags.bag_reader import BagReadError, open_bag
from vdpm_ros.bags.camera_bag import find_topics, iter_camera
from vdpm_ros.bags.mcap_recovery import scan_intact


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("valid_bags")
    return {
        "mcap": write_rosbag2(root / "mcap_bag", "mcap"),
        "db3": write_rosbag2(root / "db3_bag", "sqlite3"),
        "ros1": write_ros1(root / "ros1.bag"),
    }


def _read_all(path: Path) -> tuple[int, object]:
    with open_bag(path) as reader:
        return sum(1 for _ in reader.messages()), reader.recovery


def _error(path: Path) -> BagReadError:
    with pytest.raises(BagReadError) as info:
        _read_all(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message
    assert info.value.path == path
    return info.value


def test_valid_bags_read_whole(valid):
    for path in valid.values():
        assert _read_all(path) == (FRAMES, None)
    assert _read_all(valid["mcap"] / "mcap_bag.mcap") == (FRAMES, None)  # an .mcap file by itself


@pytest.mark.parametrize("suffix", [".mcap", ".db3", ".bag"])
def test_empty_and_random_files(tmp_path, suffix):
    empty = tmp_path / f"empty{suffix}"
    empty.write_bytes(b"")
    assert "is empty (0 bytes)" in str(_error(empty))
    noise = tmp_path / f"random{suffix}"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    assert "is not a" in str(_error(noise))


def test_files_and_directories_that_are_no_bags(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert "unrecognised bag format '.txt'" in str(_error(text))
    empty_dir = tmp_path / "empty_dir"
    empty_dir.mkdir()
    assert "not a rosbag2 directory: no metadata.yaml" in str(_error(empty_dir))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _read_all(tmp_path / "missing.mcap")


def test_a_killed_mcap_recording_is_read_as_far_as_it_is_intact(valid, tmp_path, caplog):
    src = valid["mcap"] / "mcap_bag.mcap"
    cut = truncate(src, tmp_path / "killed.mcap", 0.7)
    scan = scan_intact(cut)
    assert scan is not None and not scan.complete and scan.message_records >= 2
    with caplog.at_level(logging.WARNING, logger="vdpm_ros.bags.bag_reader"):
        n, recovery = _read_all(cut)
        _read_all(cut)  # a command opens a bag several times: it says so once
    assert 0 < n < FRAMES and n % 5 == 0  # whole chunks of 5 images
    assert recovery.messages == n and recovery.lost_bytes == scan.lost_bytes > 0
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and f"{n} messages recovered" in warnings[0] and "killed" in warnings[0]
    # What was recovered is the recording's beginning, bit for bit.
    with open_bag(src) as whole, open_bag(cut) as part:
        a = [raw.tobytes() if hasattr(raw, "tobytes") else bytes(raw) for _, _, raw in whole.messages()][:n]
        b = [raw.tobytes() if hasattr(raw, "tobytes") else bytes(raw) for _, _, raw in part.messages()]
    assert a == b


def test_a_killed_rosbag2_directory_without_metadata(valid, tmp_path):
    bag = shutil.copytree(valid["mcap"], tmp_path / "killed_dir")
    (bag / "metadata.yaml").unlink()
    assert _read_all(bag) == (FRAMES, None)  # a complete .mcap: only the metadata is missing, nothing to recover
    truncate(valid["mcap"] / "mcap_bag.mcap", bag / "mcap_bag.mcap", 0.5)
    n, recovery = _read_all(bag)
    assert 0 < n < FRAMES and "not closed" in recovery.why
    # With metadata.yaml but a cut-off .mcap (a partial copy): the .mcap file is read by itself.
    shutil.copy(valid["mcap"] / "metadata.yaml", bag / "metadata.yaml")
    n2, recovery2 = _read_all(bag)
    assert n2 == n and "cut short" in recovery2.why


def test_killed_before_the_first_chunk(valid, tmp_path):
    cut = truncate(valid["mcap"] / "mcap_bag.mcap", tmp_path / "early.mcap", 0.1)
    assert "no complete message" in str(_error(cut))


def test_a_split_recording_without_metadata(valid, tmp_path):
    bag = tmp_path / "split"
    bag.mkdir()
    for i in range(2):
        shutil.copy(valid["mcap"] / "mcap_bag.mcap", bag / f"split_{i}.mcap")
    assert "ros2 bag reindex" in str(_error(bag))


def test_unreadable_metadata_falls_back_to_the_mcap_file(valid, tmp_path):
    bag = shutil.copytree(valid["mcap"], tmp_path / "bad_meta")
    (bag / "metadata.yaml").write_text("rosbag2_bagfile_information: [")
    n, recovery = _read_all(bag)
    assert n == FRAMES and "does not read as a rosbag2 directory" in recovery.why


def test_db3_without_metadata_or_cut_short(valid, tmp_path):
    bag = shutil.copytree(valid["db3"], tmp_path / "db3_nometa")
    (bag / "metadata.yaml").unlink()
    assert "ros2 bag reindex" in str(_error(bag))
    cut = truncate(valid["db3"] / "db3_bag.db3", tmp_path / "cut.db3", 0.5)
    assert "sqlite3 bag cannot be read" in str(_error(cut))


def test_ros1_bag_cut_short(valid, tmp_path):
    cut = truncate(valid["ros1"], tmp_path / "cut.bag", 0.6)
    assert "rosbag reindex" in str(_error(cut))


def _chunk_offsets(data: bytes) -> list[int]:
    pos, chunks = 8, []
    while pos + 9 <= len(data):
        op, length = data[pos], int.from_bytes(data[pos + 1 : pos + 9], "little")
        chunks += [pos] if op == 0x06 else []
        pos += 9 + length
    return chunks


def test_a_bag_damaged_in_the_middle_says_how_much_was_read(valid, tmp_path, caplog):
    # The third chunk's header overwritten after the file was closed: its index and footer are intact,
    # rosbags skips the chunk silently; the count against the bag's statistics shows it.
    data = bytearray((valid["mcap"] / "mcap_bag.mcap").read_bytes())
    chunk = _chunk_offsets(bytes(data))[2]
    data[chunk + 37 : chunk + 53] = b"\xff" * 16
    bad = tmp_path / "damaged.mcap"
    bad.write_bytes(bytes(data))
    assert scan_intact(bad).complete, "closed by its writer: not an unfinished recording"
    with caplog.at_level(logging.WARNING, logger="vdpm_ros.bags.bag_reader"):
        n, recovery = _read_all(bad)
    assert recovery is None and n < FRAMES
    assert any(f"only {n} of the {FRAMES} messages" in r.getMessage() and str(bad) in r.getMessage() for r in caplog.records)


def test_camera_reading_names_broken_bags_and_skips_broken_images(valid, tmp_path):
    cut = truncate(valid["mcap"] / "mcap_bag.mcap", tmp_path / "killed.mcap", 0.7)
    topics = find_topics(cut)
    assert topics.image == TOPIC
    frames = list(iter_camera(cut, topics))
    assert 0 < len(frames) < FRAMES and frames[0].array.shape == (*HW, 3)
    with pytest.raises(BagReadError, match="is empty"):
        empty = tmp_path / "empty.mcap"
        empty.write_bytes(b"")
        find_topics(empty)


def test_undecodable_images_in_a_bag_are_skipped_and_counted(tmp_path):
    from collections import Counter

    from rosbags.rosbag2 import StoragePlugin, Writer

    from vdpm_ros.output import RosbagsTypes
    from vdpm_ros.output.builders import header, image

    T = RosbagsTypes()
    path = tmp_path / "bad_images"
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection(TOPIC, "sensor_msgs/msg/Image", typestore=T.store)
        for i in range(4):
            msg = image(T, np.full((8, 8, 3), i, np.uint8), header(T, 10**9 + i, "cam"))
            if i == 1:
                msg.encoding = "yuv422" + "x" * 5000
            if i == 2:
                msg.data = msg.data[:10]
            writer.write(conn, 10**9 + i, T.serialize(msg, "sensor_msgs/msg/Image"))
    rejected: Counter = Counter()
    frames = list(iter_camera(path, find_topics(path, image_topic=TOPIC), rejected=rejected))
    assert [f.stamp_ns - 10**9 for f in frames] == [0, 3]
    assert rejected == {"image/unsupported_encoding": 1, "image/size_mismatch": 1}


def test_bag_read_error_is_a_value_error_for_the_cli():
    assert issubclass(BagReadError, ValueError)
    assert os.fspath(BagReadError("x.mcap", "broken", "fix it").path) == "x.mcap"
    assert str(BagReadError("x.mcap", "broken", "fix it")) == "bag x.mcap: broken; fix it"
