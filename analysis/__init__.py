"""memgate analysis: numbers from result files (compare, gate) apart from their rendering (render/)."""
