"""A plan made in a forked process while this one does other work (e.g. another plan).

Two plans of one patient (the demo's protons and carbon ions) are independent: neither
reads what the other computes. Made one after the other they leave a core idle for much
of the time (the optimizer's per-iteration numpy, figures, DICOM writing run on one
thread), so :func:`plan_in_background` forks a child process that runs
:func:`~ionbeam.workflow.make_plan` on its inputs while the caller goes on, and
:meth:`BackgroundPlan.result` hands back the outcome. It is the same outcome, bit for
bit, as :func:`make_plan` in this process: the kernels' results do not depend on the
process or the thread count, and the objects of ``inputs`` (patient, machine,
calibration, beam model, prescription, options) are this process's own in the outcome,
not copies, so that functions that check they were given the same patient still do.

The child is forked, so it reads the caller's patient and machine without pickling them
and starts without importing anything. Where forking is not safe — a platform without
``fork``, or numba's thread pool already started in this process (its threads do not
survive a fork) — the plan is made serially, in this process, when
:meth:`BackgroundPlan.result` is first called: the result is the same either way.
A child forked with ``hold_after`` waits after that stage until
:meth:`BackgroundPlan.release`: on a cold numba cache the caller can so compile the
kernels both plans call once, the child loading them from numba's cache afterwards.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import pickle
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ionbeam.errors import IonbeamError

if TYPE_CHECKING:
    from ionbeam.workflow.requests import PlanInputs
    from ionbeam.workflow.result import PlanOutcome

__all__ = ["BackgroundPlan", "BackgroundPlanError", "can_fork", "plan_in_background"]


class BackgroundPlanError(IonbeamError, RuntimeError):
    """The process making a plan in the background ended without a result."""


def can_fork() -> bool:
    """Whether a plan can be made in a forked process now: the platform forks, and numba's
    parallel thread pool has not been started in this process (its threads would be
    missing in the child)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    try:
        from numba.np.ufunc import parallel
    except ImportError:  # pragma: no cover - numba is a dependency
        return True
    return not getattr(parallel, "_is_initialized", True)


class BackgroundPlan:
    """A plan being made in a forked process (or, where none could be forked, to be made
    here on the first call of :meth:`result`). ``hold_after``: see
    :func:`plan_in_background`. The child's stage lines are passed to
    ``on_stage`` in this process, by a thread that listens to the child."""

    def __init__(
        self,
        inputs: PlanInputs,
        *,
        grid_check: bool,
        on_stage: Callable[[str], None] | None,
        fork: bool,
        hold_after: str | None = None,
    ) -> None:
        self._inputs = inputs
        self._grid_check = grid_check
        self._on_stage = on_stage
        self._outcome: PlanOutcome | None = None
        self._process: Any = None
        self._message: tuple[str, Any] | None = None
        self._listener: threading.Thread | None = None
        self._hold_after = hold_after
        self._gate: int | None = None  # the write end of the pipe the held child waits on
        if fork:
            self._start()

    @property
    def forked(self) -> bool:
        """Whether the plan is (or was) made in a child process."""
        return self._process is not None

    def release(self) -> None:
        """Let a child held after its stage ``hold_after`` go on (see
        :func:`plan_in_background`); nothing if it is not held or already released."""
        if self._gate is not None:
            gate, self._gate = self._gate, None
            with contextlib.suppress(OSError):  # the child has ended
                os.write(gate, b"g")
            os.close(gate)

    def _start(self) -> None:
        context = multiprocessing.get_context("fork")
        read_fd, write_fd = os.pipe()
        gate_read, gate_write = os.pipe() if self._hold_after is not None else (-1, -1)
        hold = (self._hold_after, gate_read, gate_write) if self._hold_after is not None else None
        self._process = context.Process(
            target=_child,
            args=(read_fd, write_fd, self._inputs, self._grid_check, hold),
            name="ionbeam-background-plan",
            daemon=False,  # it may start processes of its own (e.g. robust scenarios)
        )
        try:
            self._process.start()
        finally:
            os.close(write_fd)
            if hold is not None:
                os.close(gate_read)
                self._gate = gate_write
        self._listener = threading.Thread(
            target=self._listen, args=(read_fd,), name="ionbeam-background-plan", daemon=True
        )
        self._listener.start()

    def _listen(self, read_fd: int) -> None:
        """Pass the child's stage lines on and unpickle its result, straight from the pipe
        (no copy of the whole message in either process), until the child ends."""
        shared = _shared(self._inputs)
        try:
            with os.fdopen(read_fd, "rb", buffering=_BUFFER) as stream:
                while True:
                    kind, value = _SharedUnpickler(stream, shared).load()
                    if kind != "stage":
                        self._message = (kind, value)
                        return
                    if self._on_stage is not None:
                        self._on_stage(value)
        except (EOFError, OSError, pickle.UnpicklingError):
            return  # no (whole) result: result() says so with the child's exit code

    def result(self) -> PlanOutcome:
        """The outcome of :func:`~ionbeam.workflow.make_plan` on the inputs (waits for the
        child process; re-raises the error it raised)."""
        if self._outcome is not None:
            return self._outcome
        self.release()
        if self._process is None or self._listener is None:
            from ionbeam.workflow.recipe import make_plan

            self._outcome = make_plan(
                self._inputs, grid_check=self._grid_check, on_stage=self._on_stage
            )
            return self._outcome
        self._listener.join()
        self._process.join()
        if self._message is None:
            raise BackgroundPlanError(
                f"the process planning {self._inputs.particle} in the background ended "
                f"without a result (exit code {self._process.exitcode}); run it again, or "
                "plan serially if memory is short"
            )
        (kind, value), self._message = self._message, None
        if kind == "error":
            raise value
        self._outcome = value
        return value

    def close(self) -> None:
        """Stop the child process if it is still running (its result is then lost)."""
        self.release()
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join()
        if self._listener is not None:
            self._listener.join()


@contextmanager
def plan_in_background(
    inputs: PlanInputs,
    *,
    grid_check: bool = True,
    on_stage: Callable[[str], None] | None = None,
    fork: bool | None = None,
    hold_after: str | None = None,
) -> Iterator[BackgroundPlan]:
    """Start :func:`~ionbeam.workflow.make_plan` of ``inputs`` in a forked process; the
    handle's ``result()`` returns its outcome. On leaving the block a child still running
    is stopped. ``fork``: None = where :func:`can_fork`; False = plan in this process
    when ``result()`` is called; ``hold_after``: the child stops after the stage line
    that starts with this text until the handle's ``release()`` (or ``result()``) is
    called, e.g. so that kernels both plans call are compiled in this process only and
    loaded by the child from numba's cache; ``on_stage``: called in this process with each of the
    plan's stage lines (from a listening thread while the child runs). Fork before this
    process runs numba's parallel kernels."""
    plan = BackgroundPlan(
        inputs,
        grid_check=grid_check,
        on_stage=on_stage,
        fork=can_fork() if fork is None else fork and can_fork(),
        hold_after=hold_after,
    )
    try:
        yield plan
    finally:
        plan.close()


#: Buffer (bytes) of the pipe's file objects on both sides.
_BUFFER = 1 << 20


def _child(
    read_fd: int,
    write_fd: int,
    inputs: PlanInputs,
    grid_check: bool,
    hold: tuple[str, int, int] | None,
) -> None:
    """The child process: make the plan, sending each stage line as it ends, then the
    outcome (or the error), each as a pickle of ``(kind, value)`` on the pipe; with
    ``hold`` = (stage, gate's read end, its write end), wait after that stage's line until
    the parent writes to the gate or closes it."""
    from ionbeam.workflow.recipe import make_plan

    os.close(read_fd)
    if hold is not None:
        os.close(hold[2])
    shared = _shared(inputs)
    with os.fdopen(write_fd, "wb", buffering=_BUFFER) as stream:

        def send(kind: str, value: Any) -> None:
            _SharedPickler(stream, shared).dump((kind, value))
            stream.flush()

        def on_stage(text: str) -> None:
            send("stage", text)
            if hold is not None and text.startswith(hold[0]):
                os.read(hold[1], 1)  # a byte, or b"" when the parent closed the gate

        try:
            outcome = make_plan(inputs, grid_check=grid_check, on_stage=on_stage)
        except BaseException as error:  # sent to the parent, which raises it
            _send_error(stream, error)
            return
        try:
            send("outcome", outcome)  # streamed: a failure leaves the parent an EOF
        except OSError:  # the parent stopped listening (it failed or was interrupted)
            return


def _send_error(stream: Any, error: BaseException) -> None:
    """Send ``error`` (pickled whole first, so that a part never reaches the pipe; one
    that cannot be pickled goes as a :class:`BackgroundPlanError` with its traceback)."""
    buffer = io.BytesIO()
    try:
        _SharedPickler(buffer, {}).dump(("error", error))
    except (pickle.PicklingError, TypeError, AttributeError):
        buffer = io.BytesIO()
        text = "".join(traceback.format_exception(error))
        _SharedPickler(buffer, {}).dump(("error", BackgroundPlanError(text)))
    try:
        stream.write(buffer.getbuffer())
        stream.flush()
    except OSError:  # the parent stopped listening
        pass


def _shared(inputs: PlanInputs) -> dict[str, Any]:
    """The objects of ``inputs`` that both processes hold (the child is forked), by name:
    they travel back as their names and are the parent's own objects in the outcome."""
    names = ("patient", "prescription", "options", "calibration", "machine", "beam_model")
    return {name: getattr(inputs, name) for name in names if getattr(inputs, name) is not None}


def _mapping_proxy(items: dict[str, Any]) -> MappingProxyType[str, Any]:
    """A read-only mapping rebuilt from its items (for unpickling)."""
    return MappingProxyType(items)


def _error(kind: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """An exception rebuilt with its arguments and fields, without calling its
    ``__init__`` (for unpickling)."""
    error = kind.__new__(kind, *args)
    error.args = args
    vars(error).update(state)
    return error


class _SharedPickler(pickle.Pickler):
    """Pickles the objects in ``shared`` by name, and read-only mappings by their items."""

    def __init__(self, file: Any, shared: dict[str, Any]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._names = {id(obj): name for name, obj in shared.items()}

    def persistent_id(self, obj: Any) -> str | None:
        return self._names.get(id(obj))

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is MappingProxyType:
            return _mapping_proxy, (dict(obj),)
        if isinstance(obj, BaseException):  # ionbeam's errors take other __init__ arguments
            return _error, (type(obj), obj.args, dict(vars(obj)))
        return NotImplemented


class _SharedUnpickler(pickle.Unpickler):
    """Unpickles what :class:`_SharedPickler` wrote, with this process's shared objects."""

    def __init__(self, file: Any, shared: dict[str, Any]) -> None:
        super().__init__(file)
        self._objects = shared

    def persistent_load(self, pid: Any) -> Any:
        return self._objects[pid]
