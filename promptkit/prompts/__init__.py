"""promptkit's prompt layer: sandboxed Jinja templates with declared inputs, rendered to chat messages.

This package knows nothing of DSPy or LMs: it turns a template and values into
``[{"role": ..., "content": ...}]``.
"""

from promptkit.prompts.escaping import SECTION_NAMES, escape_section_tags
from promptkit.prompts.inputs import InputSpec
from promptkit.prompts.paths import bundled_pipelines_dir, bundled_templates_dir
from promptkit.prompts.rendering import Message
from promptkit.prompts.structured import Constraints, Example, StructuredPrompt
from promptkit.prompts.template import Template, TemplateInfo
from promptkit.prompts.template_env import TemplateEnv, default_env, render
from promptkit.prompts.types import InputType

__all__ = [
    "SECTION_NAMES",
    "Constraints",
    "Example",
    "InputSpec",
    "InputType",
    "Message",
    "StructuredPrompt",
    "Template",
    "TemplateEnv",
    "TemplateInfo",
    "bundled_pipelines_dir",
    "bundled_templates_dir",
    "default_env",
    "escape_section_tags",
    "render",
]
