"""A distributed search never hangs on a dead chief or worker; a taken chief port and a
corrupt search state are one error line each. In-process: the "worker" that dies is a gRPC
client that takes a trial and never reports, which is all the chief sees of a killed one."""

import json
import shutil
import socket
import sys
import threading
import time

import pytest

from helpers import free_port
from helpers.tuning import tune_args
from helpers.cli import run_main
from zoo.cli import main



@pytest.fixture
def distributed(monkeypatch):
    """Sets keras-tuner's distributed variables for `role`; returns the port."""
    port = free_port()

    def setup(tuner_id):
        monkeypatch.setenv("KERASTUNER_TUNER_ID", tuner_id)
        monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
        monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(port))
        monkeypatch.setenv("ZOO_TUNE_REPORT_SECONDS", "0.5")
        return port

    return setup


def error_line(capsys):
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), captured.err
    return captured.out, err[0]


def test_chief_on_a_taken_port_is_one_line(tmp_path, capsys, distributed):
    port = distributed("chief")
    with socket.socket() as other:  # e.g. an earlier chief still listening
        other.bind(("127.0.0.1", port))
        other.listen(1)
        start = time.monotonic()
        assert run_main(tune_args(tmp_path)) == 2
    _, line = error_line(capsys)
    assert line.startswith(f"error: the chief cannot listen on 127.0.0.1:{port} (Address "
                           "already in use): another process")
    assert time.monotonic() - start < 30


def _dying_worker(port, tuner_id, got):
    """Asks the chief for a trial like a worker, then "dies": never reports on it."""
    import grpc
    from keras_tuner.src import protos

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = protos.get_service_grpc().OracleStub(channel)
        response = stub.CreateTrial(protos.get_service().CreateTrialRequest(tuner_id=tuner_id),
                                    wait_for_ready=True, timeout=60)
        got.append(response.trial.trial_id)


def test_chief_reports_a_dead_worker_gives_up_and_resume_reruns_its_trial(
        tmp_path, capsys, distributed):
    port = distributed("chief")
    got = []
    worker = threading.Thread(target=_dying_worker, args=(port, "tuner0", got), daemon=True)
    worker.start()
    start = time.monotonic()
    assert run_main(tune_args(tmp_path, "--wait-timeout", "3")) == 2
    assert time.monotonic() - start < 60
    worker.join(10)
    out, line = error_line(capsys)
    assert got == ["0"]
    assert "chief: waiting for trial 0 from tuner0 (" in out
    assert line.startswith("error: the chief waited 3 s (--wait-timeout) for trial 0 from "
                           "tuner0: if a worker died, restart it")
    assert "--resume" in line
    # The trial is recorded as running, so a chief re-run with --resume hands it out again.
    state = json.loads((tmp_path / "tiny" / "oracle.json").read_text())
    assert state["ongoing_trials"] == {"tuner0": "0"}

    got.clear()
    worker = threading.Thread(target=_dying_worker, args=(port, "tuner1", got), daemon=True)
    worker.start()
    assert run_main(tune_args(tmp_path, "--resume", "--wait-timeout", "2")) == 2
    worker.join(10)
    assert got == ["0"], "the unfinished trial is run again, not a new one"
    assert "for trial 0 from tuner1" in error_line(capsys)[1]


def test_chief_without_workers_reports_waiting(tmp_path, capsys, distributed):
    distributed("chief")
    assert run_main(tune_args(tmp_path, "--wait-timeout", "1.5")) == 2
    out, line = error_line(capsys)
    assert "chief: waiting for a worker to ask for a trial (" in out
    assert "for a worker to ask for a trial" in line


def test_worker_without_a_chief_reports_waiting_then_stops(tmp_path, capsys, distributed):
    port = distributed("tuner0")
    start = time.monotonic()
    assert run_main(tune_args(tmp_path, "--wait-timeout", "2")) == 2
    assert time.monotonic() - start < 60
    out, line = error_line(capsys)
    assert f"tuner0: waiting for the chief at 127.0.0.1:{port} (" in out
    assert line == (f"error: tuner0: the chief at 127.0.0.1:{port} did not answer within 2 s: "
                    "if it died, re-run it with --resume, then this worker (a waiting worker "
                    "reconnects by itself)")


@pytest.fixture(scope="module")
def finished_search(tmp_path_factory):
    directory = tmp_path_factory.mktemp("search")
    assert run_main(tune_args(directory, max_trials=2)) == 0
    return directory


@pytest.mark.parametrize("name, text, fix", [
    ("oracle.json", '{"ongoing_trials": ', "start over with --overwrite (or restore the file)"),
    ("tuner0.json", "[]", "start over with --overwrite (or restore the file)"),
    ("trial_1/trial.json", "\x00\x00", "delete that trial's folder to run the trial again"),
])
def test_corrupt_search_state_names_the_file(finished_search, tmp_path, capsys, name, text,
                                             fix):
    shutil.copytree(finished_search / "tiny", tmp_path / "tiny")
    path = tmp_path / "tiny" / name
    assert path.is_file()
    path.write_text(text)
    capsys.readouterr()
    assert run_main(tune_args(tmp_path, "--resume", max_trials=3)) == 2
    _, line = error_line(capsys)
    assert line.startswith(f"error: the search state file {path} is corrupt (")
    assert line.endswith(fix)


def test_port_check_refuses_a_listener_but_not_a_killed_chiefs_connections():
    """A chief restarted right after a kill finds its old connections in TIME_WAIT."""
    from zoo.tuning.distributed import DistributedTuningError, check_port_free

    old_chief = socket.socket()
    old_chief.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    old_chief.bind(("127.0.0.1", 0))
    old_chief.listen(1)
    port = old_chief.getsockname()[1]
    worker = socket.create_connection(("127.0.0.1", port))
    accepted, _ = old_chief.accept()
    accepted.close()  # the chief's side closes first: its end stays in TIME_WAIT
    old_chief.close()
    time.sleep(0.1)
    worker.close()
    time.sleep(0.1)
    check_port_free("127.0.0.1", port)  # no error

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        with pytest.raises(DistributedTuningError, match="holds the port"):
            check_port_free("127.0.0.1", port)


def test_worker_refused_by_a_restarted_chief_is_one_error(monkeypatch):
    """A chief re-run with --resume answers a report on a trial it did not hand out with a
    gRPC error: the worker stops with one line saying to restart it, not a traceback."""
    import grpc

    from zoo.tuning.distributed import DistributedTuningError, _PatientStub

    class Refused(grpc.RpcError):
        def code(self):
            return grpc.StatusCode.UNKNOWN

        def details(self):
            return "Exception calling application: '0'"

    class Stub:
        def EndTrial(self, request, wait_for_ready, timeout):
            raise Refused()

    stub = _PatientStub(Stub(), "tuner0", "127.0.0.1:1", wait_timeout=5, report=1,
                        out=sys.stdout)
    with pytest.raises(DistributedTuningError) as info:
        stub.EndTrial(object(), wait_for_ready=True, timeout=3600)
    assert str(info.value) == (
        "tuner0: the chief at 127.0.0.1:1 refused EndTrial (UNKNOWN: Exception calling "
        "application: '0'): if it was restarted while this worker ran a trial, restart this "
        "worker with the same command (the chief hands that trial out again)")


def test_a_failing_report_does_not_hang_the_chief_at_the_end(tmp_path, capsys, distributed):
    """A report on a trial the chief does not know (a worker that outlived a chief restart)
    raises inside keras-tuner's oracle lock, which keras-tuner then never releases: the
    chief must still finish once the search is done."""
    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.engine import trial as trial_module

    port = distributed("chief")
    result = {}

    def chief():
        try:
            main(tune_args(tmp_path, "--wait-timeout", "30", max_trials=1))
        except SystemExit as e:
            result["code"] = e.code

    thread = threading.Thread(target=chief, daemon=True)
    thread.start()
    service = protos.get_service()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = protos.get_service_grpc().OracleStub(channel)
        trial = stub.CreateTrial(service.CreateTrialRequest(tuner_id="tuner0"),
                                 wait_for_ready=True, timeout=60).trial
        stale = trial_module.Trial.from_proto(trial)
        stale.trial_id = "7"
        with pytest.raises(grpc.RpcError):  # unknown trial: KeyError in the chief
            stub.EndTrial(service.EndTrialRequest(trial=stale.to_proto()), timeout=10)
        failed = trial_module.Trial.from_proto(trial)
        failed.status = "FAILED"
        stub.EndTrial(service.EndTrialRequest(trial=failed.to_proto()), timeout=10)
        done = stub.CreateTrial(service.CreateTrialRequest(tuner_id="tuner0"), timeout=10)
        assert trial_module.Trial.from_proto(done.trial).status == "STOPPED"
    thread.join(30)
    assert not thread.is_alive(), "the chief hangs after the last trial"
    # It wrote the report: the one trial failed, so the search exits 1 saying so.
    assert result == {"code": 1}
    assert "all 1 trial(s) failed" in capsys.readouterr().err
