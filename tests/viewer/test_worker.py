"""The decode thread's scheduling: visible thumbnails first, interactive work pre-empts."""

from __future__ import annotations

from sgcformat.viewer.worker import DecodeWorker

WAIT = 120_000


def test_visible_thumbnails_are_decoded_first(qtbot, tiny_models, sgc_folder):
    worker = DecodeWorker(thumbnail_size=32, steps=2)
    done: list[str] = []
    worker.thumbnailReady.connect(lambda path, image: done.append(path))
    paths = [str(sgc_folder / f"scene{i}.sgc") for i in range(3)]
    worker.set_thumbnails(paths)
    worker.set_visible([paths[2]])
    worker.start()
    try:
        qtbot.waitUntil(lambda: len(done) == 3, timeout=WAIT)
    finally:
        worker.stop()
    assert done == [paths[2], paths[0], paths[1]]


def test_interactive_decode_preempts_thumbnails(qtbot, tiny_models, sgc_folder):
    worker = DecodeWorker(thumbnail_size=32, steps=40)
    events: list[str] = []
    worker.thumbnailReady.connect(lambda path, image: events.append(path))
    worker.finished.connect(lambda job, image, seconds: events.append("sample"))
    paths = [str(sgc_folder / f"scene{i}.sgc") for i in range(3)]
    worker.start()
    try:
        with qtbot.waitSignal(worker.jobStarted, timeout=WAIT) as started:
            worker.set_thumbnails(paths)
            qtbot.waitUntil(lambda: worker.pending_thumbnails() == 2, timeout=WAIT)
            job = worker.decode(paths[1], seed=9)
        assert started.args == [job]
        qtbot.waitUntil(lambda: len(events) == 4, timeout=WAIT)
    finally:
        worker.stop()
    # The running thumbnail was cancelled for the click, then re-queued: nothing is lost.
    assert events[0] == "sample"
    assert sorted(events[1:]) == sorted(paths)


def test_folder_change_drops_queued_thumbnails(qtbot, tiny_models, sgc_folder):
    worker = DecodeWorker(thumbnail_size=32, steps=2)
    done: list[str] = []
    worker.thumbnailReady.connect(lambda path, image: done.append(path))
    worker.set_thumbnails([sgc_folder / "scene0.sgc", sgc_folder / "scene1.sgc"])
    worker.set_thumbnails([sgc_folder / "scene2.sgc"])
    worker.start()
    try:
        qtbot.waitUntil(lambda: worker.pending_thumbnails() == 0 and len(done) == 1, timeout=WAIT)
    finally:
        worker.stop()
    assert done == [str(sgc_folder / "scene2.sgc")]
