"""The agent layer: observe, decide, act and measure, reading only marts and ML tables."""
