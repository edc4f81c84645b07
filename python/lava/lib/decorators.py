"""Function decorators a job's code can use (the original's ``lava.lib.decorators``)."""

import functools
import inspect
import warnings


def static_vars(**initial):
    """Give the decorated function attributes with these initial values (C-style statics)."""

    def attach(func):
        for name, value in initial.items():
            setattr(func, name, value)
        return func

    return attach


def debug_func(func):
    """Print each call of the decorated function (its arguments by name) and what it returned,
    indented by the depth of the call stack."""

    where = f'{func.__module__}.{func.__qualname__}'

    def traced(*args, **kwargs):
        bound = inspect.signature(func).bind(*args, **kwargs).arguments
        shown = ', '.join(f'{name} = {value!r}' for name, value in bound.items())
        margin = '  ' * (len(inspect.stack()) - 1)
        print(f'{margin}--> {where} ( {shown} )')
        result = func(*args, **kwargs)
        print(f'{margin}<-- {where} | {result}')
        return result

    return traced


def deprecated(message, *, category=DeprecationWarning, stacklevel=1):
    """Warn (``category``) each time the decorated function is called: ``<name> is deprecated.
    <message>``."""

    def mark(func):
        @functools.wraps(func)
        def warned(*args, **kwargs):
            warnings.warn(f'{func.__name__} is deprecated. {message}', category=category, stacklevel=stacklevel + 1)
            return func(*args, **kwargs)

        warned.__deprecated__ = message
        return warned

    return mark
