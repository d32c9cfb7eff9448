"""Generic supervision for Trio: OTP semantics, Akka-style backoff.

No chat knowledge lives here (the `actors` package builds on it, never the
other way round). Layout:

* `_spec`       what to supervise: Restart, Strategy, AutoShutdown, Backoff,
                ChildSpec, SupervisorSpec (frozen, validated)
* `_policy`     pure decisions, no Trio: the decision table, backoff delay,
                reset rule, restart window, child state transitions
* `_runtime`    the Trio runtime: Supervisor, its coordinator loop
* `_child`      the runtime's record of one child, and its messages
* `_nested`     supervisor_child: a supervisor as another one's child
* `_context`    ChildContext, what each incarnation gets
* `_status`     frozen snapshots and events handed to hooks
* `_signals`    run_until_signalled: SIGINT/SIGTERM, graceful then hard
* `_exceptions` the error tree
"""

from ._context import ChildContext as ChildContext
from ._exceptions import IntensityExceeded as IntensityExceeded
from ._exceptions import InvalidSpec as InvalidSpec
from ._exceptions import SignificantChildFailed as SignificantChildFailed
from ._exceptions import StartTimeout as StartTimeout
from ._exceptions import SupervisionError as SupervisionError
from ._nested import supervisor_child as supervisor_child
from ._policy import ChildState as ChildState
from ._policy import Outcome as Outcome
from ._policy import backoff_delay as backoff_delay
from ._runtime import Supervisor as Supervisor
from ._signals import run_until_signalled as run_until_signalled
from ._spec import AutoShutdown as AutoShutdown
from ._spec import Backoff as Backoff
from ._spec import ChildSpec as ChildSpec
from ._spec import Restart as Restart
from ._spec import Strategy as Strategy
from ._spec import SupervisorSpec as SupervisorSpec
from ._spec import always_restart as always_restart
from ._status import ChildStatus as ChildStatus
from ._status import Event as Event
from ._status import ExitInfo as ExitInfo
from ._status import Hook as Hook
from ._status import SupervisorStatus as SupervisorStatus
