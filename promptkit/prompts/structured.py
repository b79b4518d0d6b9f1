"""The 8-section structured prompt (Google's Vertex AI sample template, with TASK appended last).

Sections, in order: OBJECTIVE_AND_PERSONA, INSTRUCTIONS, CONSTRAINTS, CONTEXT, OUTPUT_FORMAT,
FEW_SHOT_EXAMPLES, RECAP, TASK. OBJECTIVE_AND_PERSONA, INSTRUCTIONS and TASK are required;
empty optional sections are left out. ``templates/structured.j2`` renders the model — sections
1-7 as the system message, TASK as the user message — and a user template directory can
override that file using the same variables (one per field below).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from promptkit.errors import TemplateInputError
from promptkit.yaml_files import load_yaml_file

if TYPE_CHECKING:
    from promptkit.prompts.rendering import Message
    from promptkit.prompts.template_env import TemplateEnv

TEMPLATE = "structured.j2"
_PREFIX = "StructuredPrompt "
SECTION_OF_FIELD = {
    "persona": "OBJECTIVE_AND_PERSONA",
    "objective": "OBJECTIVE_AND_PERSONA",
    "instructions": "INSTRUCTIONS",
    "constraints": "CONSTRAINTS",
    "context": "CONTEXT",
    "output_format": "OUTPUT_FORMAT",
    "examples": "FEW_SHOT_EXAMPLES",
    "recap": "RECAP",
    "task": "TASK",
}


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class Constraints(BaseModel):
    """The CONSTRAINTS section: what the model must and must not do."""

    model_config = ConfigDict(extra="forbid")

    dos: list[str] = Field(default_factory=list)
    donts: list[str] = Field(default_factory=list)


class Example(BaseModel):
    """One few-shot example; ``thoughts`` (the reasoning) is optional."""

    model_config = ConfigDict(extra="forbid")

    input: str
    thoughts: str | None = None
    output: str


class StructuredPrompt(BaseModel):
    """A prompt in the 8-section structure. Invalid fields raise :class:`TemplateInputError` naming the field."""

    model_config = ConfigDict(extra="forbid")

    persona: str = Field(description="who the model is, as a noun phrase: 'a math teacher'")
    objective: str = Field(description="what the model must achieve, as a verb phrase: 'grade the answer'")
    instructions: list[str] = Field(min_length=1, description="the steps to follow (numbered in the prompt)")
    constraints: Constraints = Field(default_factory=Constraints, description="dos and don'ts")
    context: str | None = Field(None, description="background the model needs")
    output_format: list[str] = Field(default_factory=list, description="requirements on the output (numbered)")
    examples: list[Example] = Field(default_factory=list, description="few-shot examples")
    recap: str | None = Field(None, description="the key points, repeated at the end")
    task: str = Field(description="the per-call input")

    _check_text = field_validator("persona", "objective", "task")(_not_blank)

    @field_validator("instructions")
    @classmethod
    def _steps_not_blank(cls, steps: list[str]) -> list[str]:
        for index, step in enumerate(steps, start=1):
            if not step.strip():
                raise ValueError(f"step {index} is blank")
        return steps

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _input_error(exc, None) from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> StructuredPrompt:
        """Build from a mapping; ``source`` (a file name) is named in errors."""
        if not isinstance(data, Mapping):
            raise TemplateInputError(
                f"{source or 'StructuredPrompt'}: expected a mapping of fields, got {type(data).__name__}",
                variable=None,
                expected="mapping",
            )
        try:
            return cls.model_validate(dict(data))
        except TemplateInputError as exc:  # pydantic runs __init__ (which converts the error) here too
            if source is None:
                raise
            raise TemplateInputError(
                f"{source}: {exc.message.removeprefix(_PREFIX)}",
                variable=exc.variable,
                expected=exc.expected,
                hint=exc.hint,
            ) from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> StructuredPrompt:
        """Load the fields from a YAML file."""
        data = load_yaml_file(path, what="prompt file")
        return cls.from_dict(data if data is not None else {}, source=str(path))

    def template_values(self) -> dict[str, Any]:
        """The template variables: one per field, models kept as models (no copy)."""
        return {name: getattr(self, name) for name in SECTION_OF_FIELD}

    def render_messages(self, env: TemplateEnv | None = None, *, template: str = TEMPLATE) -> list[Message]:
        """Sections 1-7 as a system message, TASK as a user message."""
        from promptkit.prompts.template_env import default_env

        return (env or default_env()).get(template).render_messages(self.template_values())

    def render_text(self, env: TemplateEnv | None = None, *, template: str = TEMPLATE) -> str:
        """All eight sections as one text."""
        from promptkit.prompts.rendering import messages_to_text

        return messages_to_text(self.render_messages(env, template=template))


def _input_error(exc: ValidationError, source: str | None) -> TemplateInputError:
    errors = exc.errors()
    first = errors[0]
    loc = [str(p) for p in first["loc"]]
    field = loc[0] if loc else ""
    section = SECTION_OF_FIELD.get(field)
    where = ".".join(loc) or "(root)"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    message = f"field {where!r}" + (f" (section {section})" if section else "") + f": {first['msg']}{more}"
    required = "required; " if section in ("OBJECTIVE_AND_PERSONA", "INSTRUCTIONS", "TASK") else ""
    return TemplateInputError(
        f"{source}: {message}" if source else _PREFIX + message,
        variable=field or None,
        expected=first["type"],
        hint=f"fix {field!r} ({required}fields: {', '.join(SECTION_OF_FIELD)})",
    )
