"""Distributed search that never hangs: the chief's server loop and the workers' patience.

keras-tuner's chief (`keras_tuner.src.distribute.oracle_chief.start_server`) waits for ever
for a trial whose worker died, and for every worker to ask once more after the last trial;
gRPC shares its port with an older chief still listening there (`SO_REUSEPORT`). Its workers
wait up to an hour, silently, on every request to a chief that died. Here:

- `serve_chief(tuner, ...)` serves the same `OracleServicer`, refuses a taken port in one
  error, prints `chief: waiting for trial N from tuner0 (T s)` every `report_every` seconds
  while it waits, and with `wait_timeout` gives up with an error that says how to recover.
  Once every trial has finished it waits at most `IDLE_GRACE` seconds for idle workers.
- `make_patient(tuner, ...)` makes a worker's requests print `tuner0: waiting for the chief
  at IP:PORT (T s)` every `report_every` seconds and fail after `wait_timeout` seconds
  (keras-tuner's hour by default) with one error instead of a gRPC traceback.

Recovery (README): a dead worker is restarted with the same command and
`KERASTUNER_TUNER_ID`: the chief hands it its unfinished trial again. A dead chief is
re-run with `resume=True` (its unfinished trials are run again); workers waiting for their next
trial reconnect, and one that was in the middle of a trial stops with an error line (the
restarted chief no longer knows that trial as running): restart it.
"""

import os
import socket
import sys
import time

import keras_tuner as kt

from zoo import _keras_private
from zoo.checks import env_seconds

#: Seconds between two "waiting for" lines; `$ZOO_TUNE_REPORT_SECONDS` overrides it.
REPORT_EVERY = 60.0
ENV_REPORT = "ZOO_TUNE_REPORT_SECONDS"
#: Seconds the chief waits, once every trial has finished, for idle workers to ask again.
IDLE_GRACE = 60.0
#: keras-tuner's own per-request timeout on the workers (`oracle_client.TIMEOUT`).
CLIENT_TIMEOUT = 3600.0


class DistributedTuningError(kt.errors.FatalError):
    """The chief cannot serve, or a chief or worker stopped answering (keras-tuner re-raises
    a `FatalError` instead of recording a failed trial)."""


def report_every():
    """`$ZOO_TUNE_REPORT_SECONDS` or `REPORT_EVERY`."""
    return env_seconds(ENV_REPORT, REPORT_EVERY)


def _address():
    return os.environ["KERASTUNER_ORACLE_IP"], os.environ["KERASTUNER_ORACLE_PORT"]


def check_port_free(ip, port):
    """Raises `DistributedTuningError` when `ip:port` cannot be bound (another process has it).

    A bind without `SO_REUSEPORT` fails on a port that any process listens on, a gRPC
    server included, and does it before gRPC logs its own error lines.
    """
    try:
        infos = socket.getaddrinfo(ip, int(port), type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise DistributedTuningError(f"the chief cannot listen on {ip}:{port}: {e.strerror}; "
                                     "check KERASTUNER_ORACLE_IP") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        # As gRPC does: connections of a chief that was just killed (TIME_WAIT) do not
        # block a new chief; a process listening on the port still does.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as e:
            raise DistributedTuningError(
                f"the chief cannot listen on {ip}:{port} ({e.strerror}): another process (an "
                "earlier chief?) holds the port; stop it or choose another "
                "KERASTUNER_ORACLE_PORT for the chief and the workers") from None


_RPCS = ("GetSpace", "UpdateSpace", "CreateTrial", "UpdateTrial", "EndTrial", "GetTrial",
         "GetBestTrials")


def _servicer(oracle):
    """keras-tuner's `OracleServicer` whose requests never leave the oracle's lock taken.

    keras-tuner's `synchronized` releases the oracle's lock only when the method returns: a
    request that raises (e.g. a report on a trial the chief does not know, from a worker
    that outlived a chief restart) keeps it for ever, and the chief's own look at the
    oracle then blocks for ever. This releases the lock such a request leaves behind.
    """
    base = _keras_private.oracle_servicer_class()

    def releasing(method):
        def call(self, request, context):
            try:
                return method(self, request, context)
            except Exception:
                _keras_private.release_oracle_lock(self.oracle)
                raise

        return call

    cls = type("Servicer", (base,), {name: releasing(getattr(base, name)) for name in _RPCS})
    return cls(oracle)


def _waits(oracle, servicer):
    """What the chief is waiting for now: {key: description}."""
    ongoing = list(oracle.ongoing_trials.items())
    if ongoing:
        return {("trial", tuner_id, trial.trial_id): f"trial {trial.trial_id} from {tuner_id}"
                for tuner_id, trial in ongoing}
    if servicer.stop_triggered:
        return {("idle", tuner_id): f"{tuner_id} to ask for another trial (the search is done)"
                for tuner_id in sorted(oracle.tuner_ids)}
    return {("worker",): "a worker to ask for a trial"}


def serve_chief(tuner, verbose=1, wait_timeout=None, report=None, poll=0.2, out=None):
    """Serves `tuner`'s oracle to the workers until every trial has finished.

    Replaces `tuner.search(...)` on the chief (keras-tuner's chief does nothing else there).

    Args:
        tuner: a keras-tuner tuner built with `KERASTUNER_TUNER_ID` containing "chief".
        verbose: the oracle's display verbosity.
        wait_timeout: float or None, seconds after which an unfinished trial (or no worker
            asking) ends the chief with `DistributedTuningError`. None waits for ever.
        report: float or None, seconds between "waiting for" lines. Defaults to
            `report_every()`.
        poll: float, seconds between two looks at the oracle.
        out: a text stream for the "waiting for" lines. Defaults to `sys.stdout`.

    Raises:
        DistributedTuningError: the port is taken, or `wait_timeout` passed.
    """
    import grpc
    from concurrent import futures

    report = report_every() if report is None else report
    out = out or sys.stdout
    ip, port = _address()
    check_port_free(ip, port)
    oracle = tuner.oracle
    oracle.verbose = verbose
    tuner.save()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1),
                         options=[("grpc.so_reuseport", 0)])
    servicer = _servicer(oracle)
    _keras_private.add_oracle_servicer(servicer, server)
    try:
        bound = server.add_insecure_port(f"{ip}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise DistributedTuningError(f"the chief cannot listen on {ip}:{port}: choose another "
                                     "KERASTUNER_ORACLE_PORT for the chief and the workers")
    server.start()
    try:
        since, last_report = {}, time.monotonic()
        while True:
            time.sleep(poll)
            if servicer.stop_triggered and not oracle.ongoing_trials and not oracle.tuner_ids:
                return  # keras-tuner's exit_chief, without waiting for the oracle's lock
            now = time.monotonic()
            waits = _waits(oracle, servicer)
            since = {k: since.get(k, now) for k in waits}
            if not since:  # a worker was just told to stop: look again
                continue
            if now - last_report >= report:
                for key, what in waits.items():
                    print(f"chief: waiting for {what} ({now - since[key]:.0f} s)", file=out,
                          flush=True)
                last_report = now
            key, first = min(since.items(), key=lambda kv: kv[1])
            if key[0] == "idle":
                grace = min(IDLE_GRACE, wait_timeout or IDLE_GRACE)
                if now - first >= grace:
                    idle = ", ".join(k[1] for k in waits)
                    print(f"chief: every trial has finished; {idle} did not ask again within "
                          f"{grace:g} s (stopped?): writing the report", file=out, flush=True)
                    return
            elif wait_timeout is not None and now - first >= wait_timeout:
                raise DistributedTuningError(
                    f"the chief waited {wait_timeout:g} s (`wait_timeout`) for {waits[key]}: "
                    "if a worker died, restart it with the same command and "
                    "KERASTUNER_TUNER_ID (it runs its unfinished trial again); or stop every "
                    "process and re-run them all with `resume=True` (unfinished trials run again)")
    finally:
        server.stop(None)


class _PatientStub:
    """A worker's `OracleStub` whose calls wait in `report`-second slices, saying so."""

    def __init__(self, stub, tuner_id, address, wait_timeout, report, out):
        self._stub, self._tuner_id, self._address = stub, tuner_id, address
        self._wait_timeout, self._report, self._out = wait_timeout, report, out

    def __getattr__(self, name):
        import grpc

        call = getattr(self._stub, name)
        retry = (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)

        def patient(request, wait_for_ready=True, timeout=None):
            start = time.monotonic()
            while True:
                left = self._wait_timeout - (time.monotonic() - start)
                try:
                    return call(request, wait_for_ready=True,
                                timeout=max(min(self._report, left), 0.01))
                except grpc.RpcError as e:
                    if e.code() not in retry:  # e.g. a chief restarted during our trial
                        raise DistributedTuningError(
                            f"{self._tuner_id}: the chief at {self._address} refused {name} "
                            f"({e.code().name}: {e.details()}): if it was restarted while this "
                            "worker ran a trial, restart this worker with the same command "
                            "(the chief hands that trial out again)") from None
                    if e.code() == grpc.StatusCode.UNAVAILABLE:
                        time.sleep(min(1.0, max(left, 0)))
                waited = time.monotonic() - start
                if waited >= self._wait_timeout:
                    raise DistributedTuningError(
                        f"{self._tuner_id}: the chief at {self._address} did not answer "
                        f"within {self._wait_timeout:g} s: if it died, re-run it with "
                        "`resume=True`, then this worker (a waiting worker reconnects by itself)"
                    ) from None
                print(f"{self._tuner_id}: waiting for the chief at {self._address} "
                      f"({waited:.0f} s)", file=self._out, flush=True)

        return patient


def make_patient(tuner, wait_timeout=None, report=None, out=None):
    """Makes a worker tuner's requests to the chief say that they wait, and end.

    Args:
        tuner: a keras-tuner tuner in a worker process (its oracle is an `OracleClient`).
        wait_timeout: float or None, seconds one request may wait for the chief. Defaults
            to keras-tuner's hour.
        report: float or None, seconds between "waiting for the chief" lines. Defaults to
            `report_every()`.
        out: a text stream for those lines. Defaults to `sys.stdout`.
    """
    client = tuner.oracle
    ip, port = _address()
    client.stub = _PatientStub(client.stub, client.tuner_id, f"{ip}:{port}",
                               CLIENT_TIMEOUT if wait_timeout is None else wait_timeout,
                               report_every() if report is None else report,
                               out or sys.stdout)
    return tuner
