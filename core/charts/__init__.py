"""Charts for chat: PNG images drawn with matplotlib (Agg, no display), one palette for the whole bot."""
