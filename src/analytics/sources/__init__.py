"""Sources layer: vendor exports (and API pulls) -> canonical warehouse tables.

``registry`` maps each source kind to its adapter and holds :func:`load_source`;
``reading`` decodes files, finds headers and parses values; one module per
vendor (``metrica``, ``ga4``, ``amocrm``, ``calltracking``, ``adcost``);
``channels`` groups traffic into channels; ``linkage`` links calls, forms and
chats to visits and leads to deals and counts what stays unmatched.
"""

from analytics.sources.reading import (
    ACCOUNT_TIMEZONE,
    ExportTable,
    boolean_text,
    decimal_text,
    decode_export,
    load_translated,
    local_time_text,
    map_text,
    new_load_id,
    read_export,
    ru_datetime_text,
)
from analytics.sources.registry import SOURCE_KINDS, load_source
from analytics.warehouse import InputError, LoadResult

__all__ = [
    "ACCOUNT_TIMEZONE",
    "SOURCE_KINDS",
    "ExportTable",
    "InputError",
    "LoadResult",
    "boolean_text",
    "decimal_text",
    "decode_export",
    "load_source",
    "load_translated",
    "local_time_text",
    "map_text",
    "new_load_id",
    "read_export",
    "ru_datetime_text",
]
