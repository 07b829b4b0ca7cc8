"""Building one call's Pipecat pipeline: providers (cloud and local), processors, observers."""
