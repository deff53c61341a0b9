"""One module per platform; importing this package registers every reader."""

from tillbook.imports.readers import google_ads, meta_ads, microsoft_ads, paypal, square, stripe

__all__ = ["google_ads", "meta_ads", "microsoft_ads", "paypal", "square", "stripe"]
