"""`rectbot demo`: the whole story played against the loopback Bot API sandbox, for a newcomer.

`world` is the stage (the sandbox, the real `rectbot run` process, the transcript, the simulated
clock), `story` the scripted people, `interactive` the mode where the newcomer plays one of them.
"""

from bot.demo.interactive import run_interactive
from bot.demo.story import run

__all__ = ["run", "run_interactive"]
