"""Sources layer: vendor exports (and API pulls) -> canonical warehouse tables.

``registry`` maps each source kind to its adapter and holds :func:`load_source`;
``reading`` decodes files, finds headers and parses values; one module per
vendor (``metrica``, ``ga4``, ``amocrm``, ``calltracking``, ``adcost``);
``channels`` groups traffic into channels; ``linkage`` links calls, forms and
chats to visits and leads to deals and counts what stays unmatched.
"""

from analytics.sources.reading import (
    ACCOUNT_TIMEZONE,
    DEFAULT_PLACEHOLDERS,
    EMPTY_MARKERS,
    ExportTable,
    SourceResult,
    boolean_text,
    customer_phone_text,
    day_text,
    decimal_text,
    decode_export,
    epoch_zero_rejects,
    load_translated,
    local_time_text,
    map_text,
    new_load_id,
    number_text,
    parse_period,
    read_export,
    ru_datetime_text,
    suggest_mapping,
    timestamp_text,
)
from analytics.sources.registry import SOURCE_KINDS, load_source, source_settings
from analytics.warehouse import InputError, LoadResult

__all__ = [
    "ACCOUNT_TIMEZONE",
    "DEFAULT_PLACEHOLDERS",
    "EMPTY_MARKERS",
    "SOURCE_KINDS",
    "ExportTable",
    "InputError",
    "LoadResult",
    "SourceResult",
    "boolean_text",
    "customer_phone_text",
    "day_text",
    "decimal_text",
    "decode_export",
    "epoch_zero_rejects",
    "load_source",
    "load_translated",
    "local_time_text",
    "map_text",
    "new_load_id",
    "number_text",
    "parse_period",
    "read_export",
    "ru_datetime_text",
    "source_settings",
    "suggest_mapping",
    "timestamp_text",
]
