//! Mock Humaans API (being written).
