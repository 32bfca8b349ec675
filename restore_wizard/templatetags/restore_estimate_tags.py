"""A restore's estimate in words, for the wizard's step 2 and the operation page."""

from django import template

from restore_wizard import estimates

register = template.Library()


@register.filter
def estimate_summary(estimate) -> str:
    """``About 40 s: 1.2 GB to unpack, 310 MB of WAL to replay``."""
    return estimates.summary(estimate)


@register.filter
def estimate_beside_actual(operation) -> str:
    """``Estimated 40 s · took 37 s``; "" when the operation kept no estimate."""
    return estimates.estimate_beside_actual(operation)
