"""Checks of plain arguments (integers, numbers, choices) with clear errors.

Standard library only, so that every module can use it; each check raises a
``ValueError`` naming the argument and returns the value as a plain type.

Authors
 * speechbrain-asd developers
"""

import math
import numbers


def check_int(name, value, minimum=None):
    """Checks that an argument is an integer, at least ``minimum``.

    Arguments
    ---------
    name : str
        The argument's name, used in the error message.
    value : int
        The value to check (a Python or numpy integer, not a bool).
    minimum : int, optional
        Smallest allowed value.

    Returns
    -------
    value : int
        The value as a Python int.

    Raises
    ------
    ValueError
        If the value is not an integer or is below ``minimum``.

    Example
    -------
    >>> check_int("n_speakers", 4, minimum=1)
    4
    >>> check_int("n_speakers", 0, minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: n_speakers must be >= 1, got 0
    >>> check_int("seed", 1.5)
    Traceback (most recent call last):
    ...
    ValueError: seed must be an integer, got 1.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_number(name, value, minimum=None, maximum=None, strict=False):
    """Checks that an argument is a finite real number inside bounds.

    Arguments
    ---------
    name : str
        The argument's name, used in the error message.
    value : float
        The value to check (an int or a float, not a bool).
    minimum : float, optional
        Lowest allowed value (inclusive unless ``strict``).
    maximum : float, optional
        Highest allowed value (inclusive).
    strict : bool
        If True, ``value`` must be strictly greater than ``minimum``.

    Returns
    -------
    value : float
        The value as a Python float.

    Raises
    ------
    ValueError
        If the value is not a finite number or lies outside the bounds; the
        message gives the allowed interval.

    Example
    -------
    >>> check_number("temperature", 5, minimum=0.0, strict=True)
    5.0
    >>> check_number("gamma", 1.5, minimum=0.0, maximum=1.0)
    Traceback (most recent call last):
    ...
    ValueError: gamma must be in [0.0, 1.0], got 1.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    too_low = minimum is not None and (
        value <= minimum if strict else value < minimum
    )
    too_high = maximum is not None and value > maximum
    if too_low or too_high:
        low = "-inf" if minimum is None else minimum
        high = "inf" if maximum is None else maximum
        bracket = "(" if strict else "["
        raise ValueError(
            f"{name} must be in {bracket}{low}, {high}], got {value}"
        )
    return value


def check_positive(name, value, above=0):
    """Checks that an argument is a finite real number greater than ``above``.

    Arguments
    ---------
    name : str
        The argument's name, used in the error message.
    value : float
        The value to check (an int or a float, not a bool).
    above : float
        The value must be strictly greater than this (default 0).

    Returns
    -------
    value : float
        The value as a Python float.

    Raises
    ------
    ValueError
        If the value is not a finite number or is not above the bound.

    Example
    -------
    >>> check_positive("alpha", 3)
    3.0
    >>> check_positive("alpha", -1)
    Traceback (most recent call last):
    ...
    ValueError: alpha must be > 0, got -1.0
    """
    value = check_number(name, value)
    if not value > above:
        raise ValueError(f"{name} must be > {above}, got {value}")
    return value


def check_choice(name, value, choices):
    """Checks that an argument is one of a few allowed values.

    Arguments
    ---------
    name : str
        The argument's name, used in the error message.
    value : object
        The value to check.
    choices : tuple
        The allowed values.

    Returns
    -------
    value : object
        The value, unchanged.

    Raises
    ------
    ValueError
        If the value is not among ``choices``.

    Example
    -------
    >>> check_choice("keep", "below", ("below", "above"))
    'below'
    >>> check_choice("keep", "middle", ("below", "above"))
    Traceback (most recent call last):
    ...
    ValueError: keep must be one of ('below', 'above'), got 'middle'
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_keys(where, values, keys):
    """Checks that a mapping holds exactly the given keys.

    Arguments
    ---------
    where : str
        Where the mapping comes from, used in the error message.
    values : dict
        The mapping to check.
    keys : iterable of str
        The keys it must hold, no more and no fewer.

    Returns
    -------
    values : dict
        The mapping, unchanged.

    Raises
    ------
    ValueError
        If ``values`` is not a dict or its keys differ; the message lists
        the keys, sorted.

    Example
    -------
    >>> check_keys("calibration", {"a": 1, "b": 2}, ("b", "a"))
    {'a': 1, 'b': 2}
    >>> check_keys("calibration", {"a": 1}, ("b", "a"))
    Traceback (most recent call last):
    ...
    ValueError: calibration: must hold exactly the keys ['a', 'b']
    """
    keys = sorted(keys)
    if not isinstance(values, dict) or set(values) != set(keys):
        raise ValueError(f"{where}: must hold exactly the keys {keys}")
    return values


def name_list(names, limit=10):
    """Joins names with commas for an error message, at most ``limit``.

    Arguments
    ---------
    names : list of str
        The names.
    limit : int
        How many to show; the rest are counted.

    Returns
    -------
    text : str
        The names shown, and how many more were left out.

    Example
    -------
    >>> name_list(["a", "b", "c"], limit=2)
    'a, b and 1 more'
    """
    shown = ", ".join(names[:limit])
    if len(names) > limit:
        shown += f" and {len(names) - limit} more"
    return shown
