"""The engine of a run: planning, the models it trains, the pipeline, several specs, the seed spread."""
