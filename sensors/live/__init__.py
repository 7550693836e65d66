"""The whole live chain on simulated sensors, the one place every stage of ``sensors`` meets.

Depends on every other subpackage; nothing in ``sensors`` depends on it.
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__, submod_attrs={"simulated": ["live_state_source"]}
)
