"""What a generation sends besides the problem, as one value (`Request`): adding a request field is one
edit here, in the field and in `Request.of` where a profile or server supplies it; the journal, the
probe, the manifest's `sampling` section and every request follow."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..config import Profile
from .prompt import PROMPT_STYLES, PromptStyle, Sampling

__all__ = ["Request"]


@dataclass(frozen=True)
class Request:
    """The request settings of one run: the prompt style builds the body (evalplus's), these fill it in."""

    model: str  # the request's `model`
    max_tokens: int
    family: str = "humaneval"  # the dataset family (a base model's stop strings depend on it)
    style: PromptStyle = PROMPT_STYLES["chat"]
    extra: dict = field(default_factory=dict)  # fields the server backend needs, then the profile's request_extras
    cap_field: str = "max_tokens"  # the field this server honours as the cap (probe_token_cap): sent as well
    sampling: tuple[float, float] | None = None  # (temperature, top_p) of sampled answers; None: greedy
    stop_loops: bool = False  # end a runaway answer early (streamed, watched by loops.looped)

    @classmethod
    def of(cls, profile: Profile, family: str, server_extra: dict | None = None) -> "Request":
        """A profile's request on a server whose backend adds `server_extra` (the profile's extras win)."""
        return cls(model=profile.request_model, max_tokens=profile.max_tokens, family=family,
                   style=PROMPT_STYLES[profile.prompt_style], extra={**(server_extra or {}), **profile.extras},
                   sampling=(profile.temperature, profile.top_p) if profile.sampled else None,
                   stop_loops=profile.stop_loops)

    def at(self, max_tokens: int) -> "Request":
        return replace(self, max_tokens=max_tokens)

    def _fields(self) -> dict:
        extra = dict(self.extra)
        if self.cap_field != "max_tokens":
            extra[self.cap_field] = self.max_tokens
        return extra

    def body(self, task_prompt: str, task_id: str = "", index: int = 0) -> dict:
        """The request for one answer to a problem (a sampled answer seeded by its task and index)."""
        sampling = Sampling(*self.sampling, seed=Sampling.seed_of(task_id, index)) if self.sampling else None
        return self.style.body(self.model, task_prompt, self.max_tokens, self._fields(), self.family, sampling)

    def settings(self, answers: int = 1) -> dict:
        """The manifest's `sampling` section: the request without its prompt, the seed described."""
        sampled = Sampling(*self.sampling, seed=0) if self.sampling else None
        described = self.style.body(self.model, "", self.max_tokens, self._fields(), self.family, sampled)
        described.pop("messages", None)
        described.pop("prompt", None)
        if sampled is not None:
            described["seed"] = "per problem and answer (Sampling.seed_of)"
            described["answers_per_problem"] = answers
        return described
