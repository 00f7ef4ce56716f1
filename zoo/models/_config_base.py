"""`_Config`: what the zoo's config dataclasses share (replace, command-line flags, dicts)."""

import dataclasses
from typing import ClassVar


class _Config:
    """What `LMConfig` and `MirrorConfig` share: replace, command-line flags, dicts."""

    #: CLI flag dest -> the config field it sets; and `_A_KIND`, the class in words.
    FLAG_FIELDS: ClassVar[dict] = {}

    @classmethod
    def flag_fields(cls):
        """`{flag dest: field}` of the command-line flags that apply to this kind of model."""
        return dict(cls.FLAG_FIELDS)

    def replace(self, **overrides):
        """A copy with fields replaced (None values are ignored), validated."""
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown {type(self).__name__} field(s): "
                             f"{', '.join(sorted(unknown))}")
        changes = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **changes)

    def with_flags(self, **flags):
        """A copy with the command-line settings (by argument name; None = not given) applied.

        Raises:
            ValueError: a setting that does not apply to this model, naming it and the ones
                that do, or an invalid value.
        """
        fields = self.flag_fields()
        for flag, value in flags.items():
            if value is not None and flag not in fields:
                usable = ", ".join(f"`{f}`" for f in fields)
                raise ValueError(f"`{flag}` does not apply to {self.name} ({self._A_KIND}); "
                                 f"it takes {usable}")
        return self.replace(**{fields[f]: v for f, v in flags.items() if v is not None})

    def to_dict(self):
        return dataclasses.asdict(self)

    def _check(self, check, names, optional=False, **kwargs):
        for name in names:  # frozen: the checked, converted value is stored with object's setattr
            if not (optional and getattr(self, name) is None):
                object.__setattr__(self, name, check(name, getattr(self, name), **kwargs))
