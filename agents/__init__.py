"""The agent layer: observe (marts and ML tables only), decide, act, measure."""
