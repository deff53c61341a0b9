"""Where an on-site service goes: a list of postal codes, or a radius around a base point.

The owner types the base point's coordinates; the customer's come from their browser (or
they give a postal code). No geocoding service is called.
"""

from __future__ import annotations

import math
from decimal import Decimal

from tillbook.core.errors import InvalidInput

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)

LOCATION_UNREADABLE = (
    "We could not read your location: it needs a latitude from -90 to 90 and a longitude from "
    "-180 to 180. Try “Use my location” again, or leave it out and give your postal code."
)


def location_unreadable() -> InvalidInput:
    return InvalidInput(LOCATION_UNREADABLE, field_errors={"latitude": ["Not a location."]})


def customer_point(latitude: float | None, longitude: float | None) -> tuple[float, float] | None:
    """The customer's point, None when they sent none; InvalidInput for half a point or one off
    the map. "inf" and "nan" parse as floats and would reach math.sin in haversine_km."""
    if latitude is None and longitude is None:
        return None
    if latitude is None or longitude is None:
        raise location_unreadable()
    # One range check also refuses "inf" and "nan": every comparison with nan is false.
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise location_unreadable()
    return (latitude, longitude)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance; good to about 0.5 % on the Earth's ellipsoid, plenty here."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi = math.radians(lat2 - lat1) / 2
    half_dlambda = math.radians(lon2 - lon1) / 2
    a = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def normalize_postal_code(code: str) -> str:
    return "".join(code.split()).upper()


def postal_codes(text: str) -> set[str]:
    """The owner's list: separated by commas, spaces or new lines."""
    return {normalize_postal_code(part) for part in text.replace(",", " ").split() if part}


def in_service_area(
    *,
    postal_codes_text: str,
    base: tuple[Decimal, Decimal] | None,
    radius_km: int | None,
    postal_code: str,
    point: tuple[float, float] | None,
) -> bool:
    """Inside when the postal code is listed, or the point lies within the radius. A service
    with neither rule goes anywhere."""
    listed = postal_codes(postal_codes_text)
    has_radius = base is not None and radius_km is not None
    if not listed and not has_radius:
        return True
    if listed and normalize_postal_code(postal_code) in listed:
        return True
    if has_radius and point is not None and base is not None and radius_km is not None:
        distance = haversine_km(float(base[0]), float(base[1]), point[0], point[1])
        return distance <= radius_km
    return False
