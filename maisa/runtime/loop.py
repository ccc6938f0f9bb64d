"""The step loop of one run: replay frozen steps, then ask, validate, execute, record, fix.

`RunLoop.run()` returns the value given to `finish(result)` or raises
`RunFailure` with the reason; infrastructure errors (model endpoint, store,
sandbox) propagate as their MaisaError. Every attempt is committed to the
store as soon as it ends.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from maisa.compiler.compiled import CompiledWorker
from maisa.compiler.inputs import validate_result
from maisa.errors import ModelUnavailable
from maisa.runtime.context import StepView, defined_names
from maisa.runtime.keeper import SessionKeeper
from maisa.runtime.model import Completion, ModelClient
from maisa.runtime.planning import PlanAttempt, PlanNotDrafted, draft_plan
from maisa.runtime.progress import Progress
from maisa.runtime.prompting import (
    Failure,
    Messages,
    as_reply,
    fix_messages,
    step_messages,
    transcript,
)
from maisa.runtime.reply import parse_reply
from maisa.runtime.usage import UsageMeter
from maisa.runtime.validate import StepRules, format_rejections, validate_step
from maisa.sandbox.base import Session, StepOutcome, StepStatus, ToolCall
from maisa.store.base import Store
from maisa.store.records import RunMode, StepRecord, ToolCallRecord

EXTRA_STEP = "Complete the goal and call finish(result)"
PLAN_STEP = "Draft the plan"  # shown as step 0 in progress; the plan is recorded with set_plan


class RunFailure(Exception):
    """The run cannot succeed; `reason` is what the Chain-of-Work and the user are told."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Accepted:
    """A step whose code succeeded (what a lock freezes)."""

    number: int
    description: str
    code: str


def sha256(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


class RunLoop:
    """The state of one run between its session opening and its end."""

    def __init__(
        self,
        *,
        compiled: CompiledWorker,
        inputs: dict[str, Any],
        run_id: int,
        store: Store,
        model: ModelClient | None,
        progress: Progress,
        open_session: Callable[[], Session],
        take_calls: Callable[[], list[ToolCall]],
        mode: RunMode,
        usage: UsageMeter,
        started: float | None = None,
    ) -> None:
        self.compiled = compiled
        self.spec = compiled.spec
        self.limits = compiled.spec.limits
        self.inputs = inputs
        self.run_id = run_id
        self.store = store
        self.model = model
        self.progress = progress
        self.mode = mode
        self.rules = StepRules.for_compiled(compiled, inputs)
        self.frozen_rules = StepRules.for_compiled(compiled)
        self.plan: list[str] = list(compiled.plan)
        self.deadline = (started or time.monotonic()) + self.limits.run_timeout
        self.accepted: list[Accepted] = []
        self.views: list[StepView] = []
        self.usage = usage
        self.current_step = 0
        self.keeper = SessionKeeper(open_session, take_calls, inputs, progress)

    @property
    def snapshot(self) -> dict[str, Any]:
        """The variables after the last accepted step (what a reopened session gets back)."""
        return self.keeper.snapshot

    # lifecycle --------------------------------------------------------------------------------
    def close(self) -> None:
        self.keeper.close()

    def run(self, frozen: list[Any], heal: bool) -> Any:
        """Execute the run; returns the finish() result or raises RunFailure."""
        if not self.plan and frozen:  # a spec without steps: its lock holds the drafted plan
            self.plan = [step.description for step in frozen]
            self.store.set_plan(self.run_id, self.plan)
        done, result = self._replay(frozen, heal)
        if done:
            return result
        if not self.plan:
            self._draft_plan()
        number = len(self.accepted) + 1
        while True:
            if number > self.limits.max_steps:
                raise RunFailure(
                    f"the run reached limits.max_steps ({self.limits.max_steps}) "
                    "without calling finish(result)"
                )
            extra = number > len(self.plan)
            if extra:
                self.plan.append(EXTRA_STEP)
                self.store.set_plan(self.run_id, self.plan)
                self.progress.plan_changed(self.plan, f"step {number} added: the plan is done")
            done, result = self._generate(number, self.plan[number - 1], extra=extra)
            if done:
                return result
            number += 1

    # frozen steps -----------------------------------------------------------------------------
    def _replay(self, frozen: list[Any], heal: bool) -> tuple[bool, Any]:
        for step in frozen:
            self.current_step = step.number
            self.progress.attempt_started(step.number, 1, step.description, "lock")
            # Locked code passed the validator when it was generated; a hand-edited lock with
            # a recomputed sha256 would not have, so it is checked again (without the input
            # check: a constant may equal some new input by chance).
            rejections = validate_step(step.code, self.frozen_rules)
            if rejections:
                failure = Failure("REJECTED", format_rejections(rejections), "")
                self._record_rejected_frozen(step, failure)
            else:
                failure, outcome = self._try(step.number, 1, step.description, step.code)
                if failure is None:
                    if outcome.finished:
                        return True, outcome.result
                    continue
            if not heal:
                raise RunFailure(
                    f"locked step {step.number} failed ({failure.kind}): "
                    f"{_last_line(failure.error)}"
                )
            self.mode = RunMode.HEALED
            self.progress.note(f"healing: the model regenerates from step {step.number}")
            failure = Failure(
                failure.kind, failure.error, as_reply(step.code), failure.stdout, failure.discarded
            )
            return self._generate(step.number, step.description, failure=failure, first_attempt=2)
        return False, None

    # generated steps --------------------------------------------------------------------------
    def _generate(
        self,
        number: int,
        description: str,
        *,
        extra: bool = False,
        failure: Failure | None = None,
        first_attempt: int = 1,
    ) -> tuple[bool, Any]:
        self.current_step = number
        # Healing always gets at least one model attempt, even with max_retries: 0.
        last = max(1 + self.limits.max_retries, first_attempt)
        first = step_messages(
            self.compiled,
            number=number,
            total=max(len(self.plan), number),
            description=description,
            inputs=self.inputs,
            steps=self.views,
            variables=self.snapshot,
            extra=extra,
        )
        for attempt in range(first_attempt, last + 1):
            self._check_deadline()
            self.progress.attempt_started(number, attempt, description, "model")
            messages = first
            if failure is not None:
                messages = fix_messages(
                    first,
                    number=number,
                    description=description,
                    attempt=attempt - 1,
                    attempts_left=last - attempt + 1,
                    failure=failure,
                )
            started = time.monotonic()
            completion = self._ask(messages, number)
            prompt = transcript(messages, self.compiled.fingerprint)
            parsed = parse_reply(completion.text, completion.refusal)
            if parsed.problem:
                failure = Failure("MODEL_ERROR", parsed.problem, completion.text or "")
                self._record_model_failure(
                    number, attempt, description, prompt, completion, failure, started
                )
                continue
            code = parsed.code or ""
            rejections = validate_step(code, self.rules)
            if rejections:
                failure = Failure("REJECTED", format_rejections(rejections), completion.text)
                self._record_model_failure(
                    number, attempt, description, prompt, completion, failure, started, code
                )
                continue
            failure, outcome = self._try(
                number, attempt, description, code, prompt=prompt, reply=completion.text
            )
            if failure is None:
                return outcome.finished, outcome.result if outcome.finished else None
            failure = Failure(
                failure.kind, failure.error, completion.text, failure.stdout, failure.discarded
            )
        assert failure is not None
        raise RunFailure(
            f"step {number} failed after {last} attempt(s); last error ({failure.kind}): "
            f"{_last_line(failure.error)}"
        )

    def _ask(self, messages: Messages, number: int) -> Completion:
        if self.model is None:
            raise RunFailure(
                f"step {number} needs the model, but this run has none "
                "(a locked run makes no model calls)"
            )
        try:
            completion = self.model.complete(messages, time_left=self._remaining())
        except ModelUnavailable:
            self._check_deadline()  # out of run time: that is the reason, not the endpoint
            raise
        self.usage.add(completion.prompt_tokens, completion.completion_tokens)
        self._check_deadline()
        return completion

    def _draft_plan(self) -> None:
        attempt = 1

        def ask(messages: Messages) -> Completion:
            self.progress.attempt_started(0, attempt, PLAN_STEP, "model")
            return self._ask(messages, 0)

        def seen(result: PlanAttempt) -> None:
            nonlocal attempt
            error = None if result.steps else "the reply had no numbered list of steps"
            status = "OK" if result.steps else "MODEL_ERROR"
            self.progress.attempt_finished(0, result.attempt, status, 0.0, error)
            attempt = result.attempt + 1

        try:
            steps = draft_plan(
                self.compiled,
                ask,
                inputs=self.inputs,
                attempts=1 + self.limits.max_retries,
                on_attempt=seen,
            )
        except PlanNotDrafted as exc:
            raise RunFailure(exc.message) from None
        self.plan = steps
        self.store.set_plan(self.run_id, steps)
        self.progress.plan_changed(steps, "drafted by the model")

    # executing --------------------------------------------------------------------------------
    def _try(
        self,
        number: int,
        attempt: int,
        description: str,
        code: str,
        *,
        prompt: str | None = None,
        reply: str | None = None,
    ) -> tuple[Failure | None, StepOutcome]:
        """Run `code` as an attempt, judge it, record it; on success the step is accepted."""
        before = self.snapshot
        outcome, calls = self.keeper.run(code, min(self.limits.step_timeout, self._remaining()))
        failure: Failure | None = None
        if outcome.status is not StepStatus.OK:
            failure = Failure(str(outcome.status), outcome.error or str(outcome.status), "")
        elif outcome.finished:
            problems = validate_result(self.compiled, outcome.result)
            if problems:
                failure = Failure("INVALID_RESULT", "\n".join(problems), "")
        status = failure.kind if failure else "OK"
        self.store.add_step(
            self.run_id,
            StepRecord(
                number=number,
                attempt=attempt,
                description=description,
                status=status,
                prompt=prompt,
                model_reply=reply,
                code=code,
                code_sha256=sha256(code),
                stdout=outcome.stdout,
                stderr=outcome.stderr,
                duration_s=outcome.duration_s,
                cpu_s=outcome.cpu_s,
                peak_memory_mb=outcome.peak_memory_mb,
                variables_in=before,
                variables_out=outcome.variables,
                error=failure.error if failure else None,
                tool_calls=[_tool_call_record(c) for c in calls],
            ),
        )
        self.progress.attempt_finished(
            number, attempt, status, outcome.duration_s, failure.error if failure else None
        )
        if failure is None:
            self.accepted.append(Accepted(number, description, code))
            self.views.append(
                StepView(
                    number,
                    description,
                    code,
                    outcome.stdout,
                    defined_names(before, outcome.variables),
                )
            )
            self.keeper.snapshot = dict(outcome.variables)
            return None, outcome
        discarded = self.keeper.discard(outcome)
        return Failure(failure.kind, failure.error, "", outcome.stdout, discarded), outcome

    def _record_rejected_frozen(self, step: Any, failure: Failure) -> None:
        self.store.add_step(
            self.run_id,
            StepRecord(
                number=step.number,
                attempt=1,
                description=step.description,
                status=failure.kind,
                code=step.code,
                code_sha256=sha256(step.code),
                variables_in=self.snapshot,
                variables_out=self.snapshot,
                error=failure.error,
            ),
        )
        self.progress.attempt_finished(step.number, 1, failure.kind, 0.0, failure.error)

    def _record_model_failure(
        self,
        number: int,
        attempt: int,
        description: str,
        prompt: str,
        completion: Completion,
        failure: Failure,
        started: float,
        code: str = "",
    ) -> None:
        self.store.add_step(
            self.run_id,
            StepRecord(
                number=number,
                attempt=attempt,
                description=description,
                status=failure.kind,
                prompt=prompt,
                model_reply=completion.text,
                code=code,
                code_sha256=sha256(code) if code else "",
                variables_in=self.snapshot,
                variables_out=self.snapshot,
                error=failure.error,
            ),
        )
        self.progress.attempt_finished(
            number, attempt, failure.kind, time.monotonic() - started, failure.error
        )

    # limits -----------------------------------------------------------------------------------
    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise RunFailure(self._timeout_reason())
        return remaining

    def _check_deadline(self) -> None:
        self._remaining()

    def _timeout_reason(self) -> str:
        return (
            f"the run exceeded limits.run_timeout ({self.limits.run_timeout:g}s) "
            f"during step {self.current_step}"
        )


def _tool_call_record(call: ToolCall) -> ToolCallRecord:
    return ToolCallRecord(
        sequence=call.sequence,
        tool=call.tool,
        function=call.function,
        arguments=call.arguments,
        result_summary=call.result_summary,
        ok=call.ok,
        duration_s=call.duration_s,
        error=call.error,
    )


def _last_line(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip().removeprefix("- ") if lines else ""
